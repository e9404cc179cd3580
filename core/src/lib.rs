//! # tripgate-core
//!
//! A circuit breaker as a pure state machine, in the sans-IO style of
//! quinn-proto and h11: inputs are calls with the current time
//! ([`Machine::try_acquire`], [`Machine::on_success`], [`Machine::on_failure`],
//! [`Machine::release`]), outputs are data ([`Decision`], [`Report`],
//! [`Transition`]). The machine reads no clock, starts no thread and sets no
//! timer; the same machine runs behind the JavaScript and Python packages.
//!
//! Time is a `u64` count of nanoseconds from an origin the caller chooses.
//!
//! ```
//! use std::time::Duration;
//! use tripgate_core::{Config, Decision, Machine, State};
//!
//! const MS: u64 = 1_000_000;
//! let config = Config { failure_tolerance: 1, reset_timeout: Duration::from_millis(100), ..Config::default() };
//! let mut machine = Machine::new(config, 0).unwrap();
//!
//! for t in [1, 2] {
//!     let Decision::Admitted(permit) = machine.try_acquire(t * MS) else { unreachable!() };
//!     machine.on_failure(permit, t * MS);
//! }
//! assert_eq!(machine.state(3 * MS), State::Open);
//! assert!(matches!(machine.try_acquire(3 * MS), Decision::Rejected(r) if r.retry_after == Some(Duration::from_millis(99))));
//!
//! // 100 ms after opening, one trial is let through; its success closes the breaker.
//! let Decision::Admitted(trial) = machine.try_acquire(102 * MS) else { unreachable!() };
//! assert!(trial.is_trial());
//! machine.on_success(trial, 110 * MS);
//! assert_eq!(machine.state(110 * MS), State::Closed);
//!
//! let reasons: Vec<_> = std::iter::from_fn(|| machine.poll_transition()).map(|t| t.reason.name()).collect();
//! assert_eq!(reasons, ["failure_tolerance_exceeded", "reset_timeout_elapsed", "trial_succeeded"]);
//! ```
//!
//! For a thread-safe breaker that reads a clock and wraps calls, see
//! [`CircuitBreaker`].

#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

// The machine needs only `alloc`; `std` adds the thread-safe
// `CircuitBreaker` and its clocks. The WebAssembly binding builds without it
// so that no std panic or formatting machinery reaches the module.
extern crate alloc;

/// The README's Rust examples, run as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

pub mod binding;
#[cfg(feature = "std")]
mod breaker;
#[cfg(feature = "std")]
mod fast_path;
#[cfg(feature = "std")]
mod shared;
/// The atomics `fast_path` uses (loom's in `core/loom/`).
#[cfg(feature = "std")]
mod sync {
    pub(crate) use std::sync::atomic::{AtomicU64, Ordering};
}
pub mod config;
mod machine;
mod rng;
mod snapshot;
mod snapshot_json;
mod state;
mod window;

#[cfg(all(
    feature = "std",
    not(all(target_arch = "wasm32", target_os = "unknown"))
))]
pub use breaker::MonotonicClock;
#[cfg(feature = "std")]
pub use breaker::{
    random_seed, CallError, CaughtPanic, CircuitBreaker, Clock, DefaultClock, ManualClock, Outcome,
    PanicSource, PermitGuard,
};
pub use config::{Backoff, Config, ConfigError, FailureRate, OptionValue, Requirement, Window};
pub use machine::{
    Counters, Decision, Machine, Permit, Rejection, Report, Stats, MAX_COUNT,
    MAX_PENDING_TRANSITIONS,
};
#[cfg(feature = "std")]
pub use shared::{Locked, SharedMachine};
pub use snapshot::{
    BucketSnapshot, RestoreError, Snapshot, SnapshotField, SnapshotProblem, WindowSnapshot,
    SNAPSHOT_VERSION,
};
pub use state::{Reason, State, Transition};
