//! Snapshots: a machine as plain data, with every time stored relative to the
//! instant it was taken, so it can be restored in another process whose clock
//! has another origin. The field names are the snapshot format in every
//! language (JSON with these snake_case keys, durations in nanoseconds).

use alloc::vec::Vec;
use core::fmt;

use crate::config::{Config, ConfigError, WindowSettings};
use crate::machine::{Counters, Machine, MAX_COUNT};
use crate::state::State;
use crate::window::{Bucket, BucketWindow, CallWindow, RateWindow, BUCKETS};

/// The snapshot format version this crate writes. It reads it and version 1
/// (which has no `counters.abandoned`).
pub const SNAPSHOT_VERSION: u32 = 2;

/// A machine as plain data. See `docs/semantics.md`, "Snapshots".
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Snapshot {
    /// Always [`SNAPSHOT_VERSION`] when written by this crate.
    pub version: u32,
    /// The state when taken.
    pub state: State,
    /// The generation when taken; the restored machine starts the next one.
    pub generation: u64,
    /// Consecutive failures of the closed (or forced-closed) period.
    pub consecutive_failures: u32,
    /// Consecutive successful trials of the half-open period.
    pub trial_successes: u32,
    /// In `open`: how long until a trial is admitted, in nanoseconds.
    pub open_remaining: u64,
    /// The open duration (before jitter) that the next failed trial grows from, in nanoseconds.
    pub nominal_open_duration: u64,
    /// How long before the snapshot the last transition happened, in nanoseconds.
    pub last_transition_age: Option<u64>,
    /// The jitter PRNG's state. In JSON it is a decimal string: a full 64-bit
    /// integer does not survive a JavaScript number.
    #[cfg_attr(feature = "serde", serde(with = "u64_as_string"))]
    pub rng_state: u64,
    /// The failure-rate window, when the config has one.
    pub window: Option<WindowSnapshot>,
    /// Cumulative counters.
    pub counters: Counters,
}

#[cfg(feature = "serde")]
mod u64_as_string {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &u64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(D::Error::custom)
    }
}

/// A failure-rate window's contents.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(tag = "kind", rename_all = "snake_case")
)]
pub enum WindowSnapshot {
    /// A `window_calls` window: its outcomes from oldest to newest (`true` = failure).
    Calls {
        /// The window's size.
        capacity: u32,
        /// Outcomes, oldest first.
        outcomes: Vec<bool>,
    },
    /// A `window_duration` window.
    Buckets {
        /// Bucket width in nanoseconds.
        width: u64,
        /// Time since the window started, in nanoseconds.
        elapsed: u64,
        /// The buckets still in the window, by index since the start.
        buckets: Vec<BucketSnapshot>,
    },
}

/// One bucket of a time window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct BucketSnapshot {
    /// The bucket's index counted from the window's start.
    pub index: u64,
    /// Outcomes recorded in it.
    pub calls: u32,
    /// Failures among them.
    pub failures: u32,
}

/// A field of the snapshot format, as a [`RestoreError`] names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotField {
    /// The whole snapshot (its shape).
    Snapshot,
    /// `version`
    Version,
    /// `generation`
    Generation,
    /// `counters` (as a whole)
    Counters,
    /// `counters.admitted`
    CountersAdmitted,
    /// `counters.successes`
    CountersSuccesses,
    /// `counters.failures`
    CountersFailures,
    /// `counters.slow_calls`
    CountersSlowCalls,
    /// `counters.rejections`
    CountersRejections,
    /// `counters.released`
    CountersReleased,
    /// `counters.stale_outcomes`
    CountersStaleOutcomes,
    /// `counters.trial_timeouts`
    CountersTrialTimeouts,
    /// `counters.abandoned`
    CountersAbandoned,
    /// `window` (its kind or size)
    Window,
    /// `window.outcomes`
    WindowOutcomes,
    /// `window.buckets`
    WindowBuckets,
}

impl SnapshotField {
    /// Every field, in index order (the order the wasm module numbers them in).
    pub const ALL: [SnapshotField; 16] = [
        SnapshotField::Snapshot,
        SnapshotField::Version,
        SnapshotField::Generation,
        SnapshotField::Counters,
        SnapshotField::CountersAdmitted,
        SnapshotField::CountersSuccesses,
        SnapshotField::CountersFailures,
        SnapshotField::CountersSlowCalls,
        SnapshotField::CountersRejections,
        SnapshotField::CountersReleased,
        SnapshotField::CountersStaleOutcomes,
        SnapshotField::CountersTrialTimeouts,
        SnapshotField::CountersAbandoned,
        SnapshotField::Window,
        SnapshotField::WindowOutcomes,
        SnapshotField::WindowBuckets,
    ];

    /// The field's name in the snapshot format (dotted when nested).
    pub const fn name(self) -> &'static str {
        match self {
            SnapshotField::Snapshot => "snapshot",
            SnapshotField::Version => "version",
            SnapshotField::Generation => "generation",
            SnapshotField::Counters => "counters",
            SnapshotField::CountersAdmitted => "counters.admitted",
            SnapshotField::CountersSuccesses => "counters.successes",
            SnapshotField::CountersFailures => "counters.failures",
            SnapshotField::CountersSlowCalls => "counters.slow_calls",
            SnapshotField::CountersRejections => "counters.rejections",
            SnapshotField::CountersReleased => "counters.released",
            SnapshotField::CountersStaleOutcomes => "counters.stale_outcomes",
            SnapshotField::CountersTrialTimeouts => "counters.trial_timeouts",
            SnapshotField::CountersAbandoned => "counters.abandoned",
            SnapshotField::Window => "window",
            SnapshotField::WindowOutcomes => "window.outcomes",
            SnapshotField::WindowBuckets => "window.buckets",
        }
    }
}

/// What is wrong with a snapshot's field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotProblem {
    /// Not of the snapshot format at all.
    Malformed,
    /// A version this build does not read.
    UnknownVersion,
    /// A count above 2^53 - 1.
    AboveMaxCount,
    /// More outcomes than admissions.
    MoreOutcomesThanAdmitted,
    /// More abandoned permits than released ones.
    MoreAbandonedThanReleased,
    /// A window of another kind or size than the config's.
    WindowMismatch,
    /// More outcomes than the window holds.
    MoreOutcomesThanCapacity,
    /// A bucket older or newer than the window.
    BucketOutsideWindow,
    /// A bucket with more failures than calls.
    MoreFailuresThanCalls,
    /// Two buckets with the same index.
    DuplicateBucket,
}

impl SnapshotProblem {
    /// Every problem, in index order (the order the wasm module numbers them in).
    pub const ALL: [SnapshotProblem; 10] = [
        SnapshotProblem::Malformed,
        SnapshotProblem::UnknownVersion,
        SnapshotProblem::AboveMaxCount,
        SnapshotProblem::MoreOutcomesThanAdmitted,
        SnapshotProblem::MoreAbandonedThanReleased,
        SnapshotProblem::WindowMismatch,
        SnapshotProblem::MoreOutcomesThanCapacity,
        SnapshotProblem::BucketOutsideWindow,
        SnapshotProblem::MoreFailuresThanCalls,
        SnapshotProblem::DuplicateBucket,
    ];

    /// The problem as a phrase that follows the field's name.
    pub const fn text(self) -> &'static str {
        match self {
            SnapshotProblem::Malformed => "is not JSON of the snapshot format",
            SnapshotProblem::UnknownVersion => {
                "is not a snapshot version this build reads (1 or 2)"
            }
            SnapshotProblem::AboveMaxCount => "is above 2^53 - 1",
            SnapshotProblem::MoreOutcomesThanAdmitted => "report more outcomes than were admitted",
            SnapshotProblem::MoreAbandonedThanReleased => "is more than the permits released",
            SnapshotProblem::WindowMismatch => "does not match the config's failure_rate window",
            SnapshotProblem::MoreOutcomesThanCapacity => {
                "holds more outcomes than the window's capacity"
            }
            SnapshotProblem::BucketOutsideWindow => "holds a bucket outside the window",
            SnapshotProblem::MoreFailuresThanCalls => "holds more failures than calls",
            SnapshotProblem::DuplicateBucket => "holds the same bucket twice",
        }
    }
}

/// Why a snapshot cannot be restored.
#[derive(Clone, Debug, PartialEq)]
pub enum RestoreError {
    /// The config given for the restored machine is invalid.
    Config(ConfigError),
    /// The snapshot is malformed or does not fit the config.
    Snapshot {
        /// The offending field ([`SnapshotField::name`] names it).
        field: SnapshotField,
        /// What is wrong with it.
        problem: SnapshotProblem,
    },
}

impl RestoreError {
    /// Stable code for an invalid snapshot, shared by every language.
    pub const CODE: &'static str = "invalid_snapshot";

    /// Input that is not of the snapshot format at all (a missing key, a
    /// value of the wrong type, text that is not JSON): it names the field
    /// `snapshot`. Bindings that convert a native object rather than JSON
    /// text report shape problems with this same error.
    pub const MALFORMED: RestoreError = RestoreError::Snapshot {
        field: SnapshotField::Snapshot,
        problem: SnapshotProblem::Malformed,
    };
}

impl fmt::Display for RestoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RestoreError::Config(e) => e.fmt(f),
            RestoreError::Snapshot { field, problem } => {
                write!(f, "invalid snapshot: {} {}", field.name(), problem.text())
            }
        }
    }
}

impl core::error::Error for RestoreError {}

impl From<ConfigError> for RestoreError {
    fn from(e: ConfigError) -> Self {
        RestoreError::Config(e)
    }
}

fn invalid(field: SnapshotField, problem: SnapshotProblem) -> RestoreError {
    RestoreError::Snapshot { field, problem }
}

impl Machine {
    /// The machine as data, with times relative to `now`.
    pub fn snapshot(&mut self, now: u64) -> Snapshot {
        let _ = self.state(now);
        let now = self.now;
        let window = self.window.as_ref().map(|w| match w {
            RateWindow::Calls(w) => WindowSnapshot::Calls {
                capacity: w.capacity,
                outcomes: w.in_order().collect(),
            },
            RateWindow::Buckets(w) => {
                let elapsed = w.elapsed(now);
                let newest = elapsed / w.width_nanos;
                let oldest = newest.saturating_sub(BUCKETS as u64 - 1);
                // Slot `k % BUCKETS` holds bucket `k`: walking the indexes
                // lists the buckets oldest first, without a sort.
                let buckets: Vec<BucketSnapshot> = (oldest..=newest)
                    .filter_map(|index| {
                        let b = &w.buckets[(index % BUCKETS as u64) as usize];
                        (b.index == index && b.calls > 0).then_some(BucketSnapshot {
                            index,
                            calls: b.calls,
                            failures: b.failures,
                        })
                    })
                    .collect();
                WindowSnapshot::Buckets {
                    width: w.width_nanos,
                    elapsed,
                    buckets,
                }
            }
        });
        Snapshot {
            version: SNAPSHOT_VERSION,
            state: self.state,
            generation: self.generation,
            consecutive_failures: self.consecutive_failures,
            trial_successes: self.trial_successes,
            open_remaining: if self.state == State::Open {
                self.reopen_at - now
            } else {
                0
            },
            nominal_open_duration: self.nominal_open_duration,
            last_transition_age: self.last_transition_at.map(|at| now - at),
            rng_state: self.rng.state,
            window,
            counters: self.counters.saturated(),
        }
    }

    /// A machine with `config`, in the state `snapshot` describes, at `now`.
    ///
    /// The restored machine starts a new generation: permits issued before the
    /// snapshot are stale, and a half-open machine starts with all its trial
    /// slots free. The failure-rate window must have the shape `config` gives
    /// it; other options may differ from those the snapshot was taken with.
    pub fn restore(config: Config, snapshot: &Snapshot, now: u64) -> Result<Machine, RestoreError> {
        let mut machine = Machine::new(config, now)?;
        if !(1..=SNAPSHOT_VERSION).contains(&snapshot.version) {
            return Err(invalid(
                SnapshotField::Version,
                SnapshotProblem::UnknownVersion,
            ));
        }
        let window = restore_window(
            machine.settings.failure_rate.as_ref().map(|r| r.window),
            snapshot.window.as_ref(),
            now,
        )?;
        let c = &snapshot.counters;
        if snapshot.generation > MAX_COUNT {
            return Err(invalid(
                SnapshotField::Generation,
                SnapshotProblem::AboveMaxCount,
            ));
        }
        for (field, value) in [
            (SnapshotField::CountersAdmitted, c.admitted),
            (SnapshotField::CountersSuccesses, c.successes),
            (SnapshotField::CountersFailures, c.failures),
            (SnapshotField::CountersSlowCalls, c.slow_calls),
            (SnapshotField::CountersRejections, c.rejections),
            (SnapshotField::CountersReleased, c.released),
            (SnapshotField::CountersStaleOutcomes, c.stale_outcomes),
            (SnapshotField::CountersTrialTimeouts, c.trial_timeouts),
            (SnapshotField::CountersAbandoned, c.abandoned),
        ] {
            if value > MAX_COUNT {
                return Err(invalid(field, SnapshotProblem::AboveMaxCount));
            }
        }
        let reported = c
            .successes
            .checked_add(c.failures)
            .and_then(|n| n.checked_add(c.released));
        // Once `admitted` has saturated, later outcomes may outnumber it:
        // such a snapshot (written by a machine) still restores.
        let unreported = match reported {
            Some(reported) if reported <= c.admitted => c.admitted - reported,
            Some(_) if c.admitted == MAX_COUNT => 0,
            _ => {
                return Err(invalid(
                    SnapshotField::Counters,
                    SnapshotProblem::MoreOutcomesThanAdmitted,
                ))
            }
        };
        if c.abandoned > c.released {
            return Err(invalid(
                SnapshotField::CountersAbandoned,
                SnapshotProblem::MoreAbandonedThanReleased,
            ));
        }
        machine.resume(snapshot, window, unreported, now);
        Ok(machine)
    }
}

fn restore_window(
    expected: Option<WindowSettings>,
    snapshot: Option<&WindowSnapshot>,
    now: u64,
) -> Result<Option<RateWindow>, RestoreError> {
    let mismatch = || invalid(SnapshotField::Window, SnapshotProblem::WindowMismatch);
    match (expected, snapshot) {
        (None, None) => Ok(None),
        (Some(WindowSettings::Calls(n)), Some(WindowSnapshot::Calls { capacity, outcomes })) => {
            if *capacity != n {
                return Err(mismatch());
            }
            if outcomes.len() > n as usize {
                return Err(invalid(
                    SnapshotField::WindowOutcomes,
                    SnapshotProblem::MoreOutcomesThanCapacity,
                ));
            }
            CallWindow::from_ordered(n, outcomes)
                .map(|w| Some(RateWindow::Calls(w)))
                .ok_or(RestoreError::Config(crate::config::out_of_memory(n)))
        }
        (
            Some(WindowSettings::Buckets { width_nanos }),
            Some(WindowSnapshot::Buckets {
                width,
                elapsed,
                buckets,
            }),
        ) => {
            if *width != width_nanos {
                return Err(mismatch());
            }
            let newest = elapsed / width;
            let oldest = newest.saturating_sub(BUCKETS as u64 - 1);
            let mut slots = [Bucket::default(); BUCKETS];
            let mut seen = [false; BUCKETS];
            for b in buckets {
                if !(oldest..=newest).contains(&b.index) {
                    return Err(invalid(
                        SnapshotField::WindowBuckets,
                        SnapshotProblem::BucketOutsideWindow,
                    ));
                }
                if b.failures > b.calls {
                    return Err(invalid(
                        SnapshotField::WindowBuckets,
                        SnapshotProblem::MoreFailuresThanCalls,
                    ));
                }
                let slot = (b.index % BUCKETS as u64) as usize;
                if core::mem::replace(&mut seen[slot], true) {
                    return Err(invalid(
                        SnapshotField::WindowBuckets,
                        SnapshotProblem::DuplicateBucket,
                    ));
                }
                slots[slot] = Bucket {
                    index: b.index,
                    calls: b.calls,
                    failures: b.failures,
                };
            }
            Ok(Some(RateWindow::Buckets(BucketWindow::resumed(
                width_nanos,
                *elapsed,
                now,
                slots,
            ))))
        }
        _ => Err(mismatch()),
    }
}

#[cfg(test)]
mod tests {
    use super::{SnapshotField, SnapshotProblem};

    #[test]
    fn fields_and_problems_are_listed_in_discriminant_order() {
        // The wasm module sends `field as u32` and `problem as u32`; JS reads
        // the names at those indexes of the generated lists of `ALL`.
        for (i, field) in SnapshotField::ALL.iter().enumerate() {
            assert_eq!(*field as usize, i, "{field:?}");
        }
        assert_eq!(
            SnapshotField::WindowBuckets as usize + 1,
            SnapshotField::ALL.len()
        );
        for (i, problem) in SnapshotProblem::ALL.iter().enumerate() {
            assert_eq!(*problem as usize, i, "{problem:?}");
        }
        assert_eq!(
            SnapshotProblem::DuplicateBucket as usize + 1,
            SnapshotProblem::ALL.len()
        );
    }
}
