//! A snapshot as a flat record of numbers: the form it crosses a boundary
//! that carries only numbers (the WebAssembly module's), string-free as
//! [`Stats::field_values`](crate::Stats::field_values) is. `npm/src/snapshot.js`
//! converts records to and from the JS object of the snapshot format, naming
//! the numbers with [`SNAPSHOT_RECORD_HEAD`] and [`SNAPSHOT_COUNTERS`]
//! (generated into `npm/src/generated.js`); this side judges every number,
//! as the core's JSON reader does. (The JSON codec is not used there: a JSON
//! parser would be a third of the module, and JS already has one.)
//!
//! Layout, times in nanoseconds:
//! - `0..8`: the fields of [`SNAPSHOT_RECORD_HEAD`] (the state as its index
//!   in [`State::ALL`], `last_transition_age` NaN for null), then
//!   `rng_state`'s high and low 32 bits;
//! - `10..19`: [`SNAPSHOT_COUNTERS`] (`abandoned` NaN when a version-1
//!   snapshot has none);
//! - `19`: the window's kind (0 none, 1 calls, 2 buckets), then for calls
//!   the capacity and one 0/1 per outcome (1: failure), for buckets the
//!   width, the elapsed time and (index, calls, failures) per bucket.

use alloc::vec::Vec;

use crate::machine::Counters;
use crate::snapshot::{BucketSnapshot, Snapshot, WindowSnapshot};
use crate::state::State;

/// The snapshot fields a record starts with, in order (`rng_state` follows
/// as two numbers).
pub const SNAPSHOT_RECORD_HEAD: [&str; 8] = [
    "version",
    "state",
    "generation",
    "consecutive_failures",
    "trial_successes",
    "open_remaining",
    "nominal_open_duration",
    "last_transition_age",
];

/// The counters of a snapshot, in the order a record holds them.
pub const SNAPSHOT_COUNTERS: [&str; 9] = [
    "admitted",
    "successes",
    "failures",
    "slow_calls",
    "rejections",
    "released",
    "stale_outcomes",
    "trial_timeouts",
    "abandoned",
];

// Every function here is `#[inline]`: the wasm crate calls them, and
// without the hint its module came out 150 bytes (gzipped) larger than
// when this code lived there (measured with npm/scripts/payload.mjs).

impl Snapshot {
    /// The snapshot a record holds, or `None` if it is not of the layout
    /// (the caller reports that as not of the snapshot format).
    #[inline]
    pub fn from_record(record: &[f64]) -> Option<Snapshot> {
        read(record)
    }

    /// The record of this snapshot.
    #[inline]
    pub fn to_record(&self) -> Vec<f64> {
        write(self)
    }
}

const WINDOW_KIND: usize = 19;

/// `value` as a whole number in `0..=max`.
#[inline]
fn whole(value: f64, max: u64) -> Option<u64> {
    // 2^64 as f64: every float below it that passes is exactly a u64.
    ((0.0..18_446_744_073_709_551_616.0).contains(&value) && value as u64 as f64 == value)
        .then_some(value as u64)
        .filter(|n| *n <= max)
}

struct Reader<'a> {
    record: &'a [f64],
    at: usize,
}

impl Reader<'_> {
    #[inline]
    fn number(&mut self) -> Option<f64> {
        let value = *self.record.get(self.at)?;
        self.at += 1;
        Some(value)
    }

    #[inline]
    fn integer(&mut self) -> Option<u64> {
        whole(self.number()?, u64::MAX)
    }

    /// A generation or a counter: any whole number, saturating at
    /// `u64::MAX`, so that one too large for the core is refused by the core
    /// naming its field (a JS number cannot hold 2^64 - 1 exactly).
    #[inline]
    fn count(&mut self) -> Option<u64> {
        let value = self.number()?;
        // Every double from 2^53 up is a whole number.
        if value >= 18_446_744_073_709_551_616.0 && value.is_finite() {
            return Some(u64::MAX);
        }
        whole(value, u64::MAX)
    }

    #[inline]
    fn small(&mut self) -> Option<u32> {
        whole(self.number()?, u32::MAX.into()).map(|n| n as u32)
    }

    #[inline]
    fn rest(&self) -> &[f64] {
        self.record.get(self.at..).unwrap_or_default()
    }
}

/// The snapshot a record holds, or `None` if it is not of the layout.
#[inline]
fn read(record: &[f64]) -> Option<Snapshot> {
    let mut r = Reader { record, at: 0 };
    let version = r.small()?;
    let state = *State::ALL.get(r.small()? as usize)?;
    let generation = r.count()?;
    let consecutive_failures = r.small()?;
    let trial_successes = r.small()?;
    let open_remaining = r.integer()?;
    let nominal_open_duration = r.integer()?;
    let age = r.number()?;
    let last_transition_age = if age.is_nan() {
        None
    } else {
        Some(whole(age, u64::MAX)?)
    };
    let rng_state = (u64::from(r.small()?) << 32) | u64::from(r.small()?);
    let counters = Counters {
        admitted: r.count()?,
        successes: r.count()?,
        failures: r.count()?,
        slow_calls: r.count()?,
        rejections: r.count()?,
        released: r.count()?,
        stale_outcomes: r.count()?,
        trial_timeouts: r.count()?,
        abandoned: match r.number()? {
            absent if absent.is_nan() && version == 1 => 0,
            value => whole(value, u64::MAX)?,
        },
    };
    let window = match r.small()? {
        0 if r.rest().is_empty() => None,
        1 => Some(WindowSnapshot::Calls {
            capacity: r.small()?,
            outcomes: r
                .rest()
                .iter()
                .map(|o| whole(*o, 1).map(|o| o == 1))
                .collect::<Option<Vec<bool>>>()?,
        }),
        2 => {
            let width = r.integer()?;
            let elapsed = r.integer()?;
            let mut buckets = Vec::new();
            while !r.rest().is_empty() {
                buckets.push(BucketSnapshot {
                    index: r.integer()?,
                    calls: r.small()?,
                    failures: r.small()?,
                });
            }
            Some(WindowSnapshot::Buckets {
                width,
                elapsed,
                buckets,
            })
        }
        _ => return None,
    };
    Some(Snapshot {
        version,
        state,
        generation,
        consecutive_failures,
        trial_successes,
        open_remaining,
        nominal_open_duration,
        last_transition_age,
        rng_state,
        window,
        counters,
    })
}

/// The record of `snapshot`.
#[inline]
fn write(s: &Snapshot) -> Vec<f64> {
    let c = &s.counters;
    let mut record = Vec::from([
        f64::from(s.version),
        s.state.index() as f64,
        s.generation as f64,
        f64::from(s.consecutive_failures),
        f64::from(s.trial_successes),
        s.open_remaining as f64,
        s.nominal_open_duration as f64,
        s.last_transition_age.map_or(f64::NAN, |age| age as f64),
        (s.rng_state >> 32) as f64,
        (s.rng_state & 0xffff_ffff) as f64,
        c.admitted as f64,
        c.successes as f64,
        c.failures as f64,
        c.slow_calls as f64,
        c.rejections as f64,
        c.released as f64,
        c.stale_outcomes as f64,
        c.trial_timeouts as f64,
        c.abandoned as f64,
    ]);
    debug_assert_eq!(record.len(), WINDOW_KIND);
    match &s.window {
        None => record.push(0.0),
        Some(WindowSnapshot::Calls { capacity, outcomes }) => {
            record.extend([1.0, f64::from(*capacity)]);
            record.extend(outcomes.iter().map(|failed| f64::from(u8::from(*failed))));
        }
        Some(WindowSnapshot::Buckets {
            width,
            elapsed,
            buckets,
        }) => {
            record.extend([2.0, *width as f64, *elapsed as f64]);
            for b in buckets {
                record.extend([b.index as f64, f64::from(b.calls), f64::from(b.failures)]);
            }
        }
    }
    record
}
