//! The failure-rate windows: counting structures only. They never decide a
//! state; the machine asks them for totals and decides.

use crate::config::{WindowSettings, WINDOW_BUCKETS};
use alloc::vec::Vec;

pub(crate) const BUCKETS: usize = WINDOW_BUCKETS as usize;

/// Outcomes the failure rate is computed over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RateWindow {
    Calls(CallWindow),
    Buckets(BucketWindow),
}

/// Totals of a window at some instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) struct Totals {
    pub calls: u32,
    pub failures: u32,
}

impl RateWindow {
    /// A new window, or `None` when the memory for a count window cannot be
    /// had (it is taken whole here, so that recording never allocates).
    pub(crate) fn new(settings: WindowSettings, now: u64) -> Option<Self> {
        Some(match settings {
            WindowSettings::Calls(capacity) => RateWindow::Calls(CallWindow::new(capacity)?),
            WindowSettings::Buckets { width_nanos } => {
                RateWindow::Buckets(BucketWindow::new(width_nanos, now))
            }
        })
    }

    /// Forgets every outcome; a time window starts its buckets at `now`.
    pub(crate) fn clear(&mut self, now: u64) {
        match self {
            RateWindow::Calls(w) => w.clear(),
            RateWindow::Buckets(w) => *w = BucketWindow::new(w.width_nanos, now),
        }
    }

    pub(crate) fn record(&mut self, failed: bool, now: u64) {
        match self {
            RateWindow::Calls(w) => w.record(failed),
            RateWindow::Buckets(w) => w.record(failed, now),
        }
    }

    pub(crate) fn totals(&self, now: u64) -> Totals {
        match self {
            RateWindow::Calls(w) => w.totals,
            RateWindow::Buckets(w) => w.totals(now),
        }
    }
}

/// The last `capacity` outcomes in a ring, with running totals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CallWindow {
    /// `true` for a failure; grows up to capacity, then overwritten in a ring.
    pub(crate) outcomes: Vec<bool>,
    pub(crate) capacity: u32,
    /// Index of the oldest outcome once the ring is full.
    next: usize,
    totals: Totals,
}

impl CallWindow {
    fn new(capacity: u32) -> Option<Self> {
        let mut outcomes = Vec::new();
        outcomes.try_reserve_exact(capacity as usize).ok()?;
        Some(CallWindow {
            outcomes,
            capacity,
            next: 0,
            totals: Totals::default(),
        })
    }

    fn clear(&mut self) {
        self.outcomes.clear();
        self.next = 0;
        self.totals = Totals::default();
    }

    fn record(&mut self, failed: bool) {
        if self.outcomes.len() < self.capacity as usize {
            self.outcomes.push(failed);
            self.totals.calls += 1;
        } else {
            let evicted = core::mem::replace(&mut self.outcomes[self.next], failed);
            self.totals.failures -= u32::from(evicted);
            self.next = (self.next + 1) % self.outcomes.len();
        }
        self.totals.failures += u32::from(failed);
    }

    /// The outcomes from oldest to newest.
    pub(crate) fn in_order(&self) -> impl Iterator<Item = bool> + '_ {
        let (newer, older) = self.outcomes.split_at(self.next);
        older.iter().chain(newer).copied()
    }

    pub(crate) fn from_ordered(capacity: u32, ordered: &[bool]) -> Option<Self> {
        if ordered.len() > capacity as usize {
            return None;
        }
        let mut window = CallWindow::new(capacity)?;
        for &failed in ordered {
            window.record(failed);
        }
        Some(window)
    }
}

/// Outcomes of the last `BUCKETS` bucket-widths. Bucket `k` covers
/// `[start + k*width, start + (k+1)*width)`; at an instant in bucket `n`, the
/// window holds buckets `n-BUCKETS+1 ..= n`.
///
/// `shift` lets a restored window start before the caller's clock origin:
/// the window's own time is `now + shift`, which never underflows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BucketWindow {
    pub(crate) width_nanos: u64,
    pub(crate) start: u64,
    pub(crate) shift: u64,
    /// Slot `k % BUCKETS` holds bucket `k` when `index == k`.
    pub(crate) buckets: [Bucket; BUCKETS],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) struct Bucket {
    pub(crate) index: u64,
    pub(crate) calls: u32,
    pub(crate) failures: u32,
}

impl BucketWindow {
    fn new(width_nanos: u64, start: u64) -> Self {
        BucketWindow {
            width_nanos,
            start,
            shift: 0,
            buckets: [Bucket::default(); BUCKETS],
        }
    }

    /// Time since the window started.
    pub(crate) fn elapsed(&self, now: u64) -> u64 {
        now.saturating_add(self.shift).saturating_sub(self.start)
    }

    fn index_at(&self, now: u64) -> u64 {
        self.elapsed(now) / self.width_nanos
    }

    /// A window that had been running for `elapsed` at `now`.
    pub(crate) fn resumed(
        width_nanos: u64,
        elapsed: u64,
        now: u64,
        buckets: [Bucket; BUCKETS],
    ) -> Self {
        let (start, shift) = match now.checked_sub(elapsed) {
            Some(start) => (start, 0),
            None => (0, elapsed - now),
        };
        BucketWindow {
            width_nanos,
            start,
            shift,
            buckets,
        }
    }

    fn record(&mut self, failed: bool, now: u64) {
        let index = self.index_at(now);
        let bucket = &mut self.buckets[(index % BUCKETS as u64) as usize];
        if bucket.index != index {
            *bucket = Bucket {
                index,
                calls: 0,
                failures: 0,
            };
        }
        bucket.calls = bucket.calls.saturating_add(1);
        bucket.failures = bucket.failures.saturating_add(u32::from(failed));
    }

    fn totals(&self, now: u64) -> Totals {
        let newest = self.index_at(now);
        let oldest = newest.saturating_sub(BUCKETS as u64 - 1);
        self.buckets
            .iter()
            .filter(|b| (oldest..=newest).contains(&b.index))
            .fold(Totals::default(), |t, b| Totals {
                calls: t.calls.saturating_add(b.calls),
                failures: t.failures.saturating_add(b.failures),
            })
    }
}
