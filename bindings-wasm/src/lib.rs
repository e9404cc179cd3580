//! The WebAssembly face of `tripgate-core` for the npm package.
//!
//! Only numbers and a few strings cross the boundary: options arrive as
//! numbers in fixed slots, times in milliseconds, permits as their raw parts,
//! and answers leave as numbers (state and reason indexes, flags, arrays of
//! figures) that the JS layer (`npm/src/`) names. A call allocates nothing
//! in wasm memory, and the module needs no JS imports beyond wasm-bindgen's
//! own. Every decision is the core machine's.
//!
//! On wasm32 the crate is `no_std` (the core is built without its `std`
//! feature) with a small free-list allocator, so no std formatting or panic
//! machinery reaches the module: what a browser downloads stays small
//! (docs/benchmarks.md has the figures).

#![cfg_attr(target_arch = "wasm32", no_std)]

extern crate alloc;

mod record;

use alloc::string::String;
use alloc::vec::Vec;
use core::cell::Cell;
use core::time::Duration;
use tripgate_core::binding::{option_slots, OptionSlots};
use tripgate_core::config::convert;
use tripgate_core::{Decision, Machine, Permit, Reason, Report, RestoreError, State, Stats};
use wasm_bindgen::prelude::*;

#[cfg(target_arch = "wasm32")]
#[global_allocator]
// SAFETY: wasm32-unknown-unknown without the atomics feature (how this crate
// is built) runs on one thread, the condition AssumeSingleThreaded states.
static ALLOCATOR: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };

/// A panic is a bug (the machine reports bad input as values); it traps, and
/// JS sees a `WebAssembly.RuntimeError`.
#[cfg(target_arch = "wasm32")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

/// Set in a rejection's code when the machine gave a `retry_after`
/// (`rejectedRetryAfter` then has it).
const RETRY_AFTER: u32 = 8;

/// Report flags returned to JS.
const STALE: u32 = 1;
const SLOW: u32 = 2;
const TRANSITIONED: u32 = 4;
const NEEDS_CLOCK: u32 = 8;
const QUIET_SUCCESS: u32 = 16;

fn nanos(ms: f64) -> u64 {
    convert::instant(ms, convert::NANOS_PER_MILLI)
}

fn millis(nanos: u64) -> f64 {
    nanos as f64 / convert::NANOS_PER_MILLI
}

fn millis_of(duration: Duration) -> f64 {
    millis(duration.as_nanos() as u64)
}

pub(crate) fn state_index(state: State) -> u32 {
    State::ALL.iter().position(|s| *s == state).unwrap_or(0) as u32
}

fn reason_index(reason: Reason) -> u32 {
    Reason::ALL.iter().position(|r| *r == reason).unwrap_or(0) as u32
}

/// The machine for the options (and snapshot record, when restoring), or
/// the problem: `option<TAB>name<TAB>requirement` or
/// `snapshot<TAB>field<TAB>problem`.
fn build(
    values: &[f64],
    mask: u32,
    snapshot: Option<&[f64]>,
    now: f64,
) -> Result<Machine, [&'static str; 3]> {
    let option = |e: tripgate_core::ConfigError| ["option", e.option, e.requirement];
    let config = OptionSlots::<1_000_000> { values, mask }
        .config()
        .map_err(option)?;
    let restored = match snapshot {
        None => Machine::new(config, nanos(now)).map_err(RestoreError::Config),
        Some(record) => record::read(record)
            .ok_or(RestoreError::MALFORMED)
            .and_then(|snapshot| Machine::restore(config, &snapshot, nanos(now))),
    };
    restored.map_err(|e| match e {
        RestoreError::Config(e) => option(e),
        RestoreError::Snapshot { field, problem } => ["snapshot", field, problem],
    })
}

/// The problem of the last `WasmBreaker.create` that gave no breaker, kept
/// for `lastProblem` so that JS never builds a machine twice to learn why.
struct LastProblem(Cell<Option<[&'static str; 3]>>);

// SAFETY: the module runs on one thread (wasm32 without the atomics
// feature): nothing else can reach the cell.
unsafe impl Sync for LastProblem {}

static LAST_PROBLEM: LastProblem = LastProblem(Cell::new(None));

/// Why the last `WasmBreaker.create` gave no breaker
/// (`option|snapshot<TAB>name<TAB>problem`), once; undefined after that.
#[wasm_bindgen(js_name = lastProblem)]
pub fn last_problem() -> Option<String> {
    LAST_PROBLEM.0.take().map(|parts| parts.join("\t"))
}

/// The sizes a snapshot's window can never exceed: `[buckets of a time
/// window, outcomes of a count window]`. JS sends no more than one past
/// them across, so a hostile snapshot cannot grow the module's memory.
#[wasm_bindgen]
pub fn limits() -> Vec<f64> {
    Vec::from([
        f64::from(tripgate_core::config::WINDOW_BUCKETS),
        f64::from(tripgate_core::config::MAX_WINDOW_CALLS),
    ])
}

/// The machine behind a JS `CircuitBreaker`.
#[wasm_bindgen]
pub struct WasmBreaker {
    machine: Machine,
    last_trial: u64,
    last_acquired_at: u64,
    rejected_retry_after: f64,
}

#[wasm_bindgen]
impl WasmBreaker {
    /// A closed breaker (or, given a `snapshot` record, one in its state)
    /// whose clock reads `now` milliseconds; undefined if the options or
    /// snapshot are invalid (`lastProblem` says why). `values[i]` holds the
    /// option `OPTION_NAMES[i]` when bit `i` of `mask` is set.
    pub fn create(
        values: &[f64],
        mask: u32,
        snapshot: Option<Vec<f64>>,
        now: f64,
    ) -> Option<WasmBreaker> {
        let machine = match build(values, mask, snapshot.as_deref(), now) {
            Ok(machine) => machine,
            Err(problem) => {
                LAST_PROBLEM.0.set(Some(problem));
                return None;
            }
        };
        Some(WasmBreaker {
            machine,
            last_trial: 0,
            last_acquired_at: 0,
            rejected_retry_after: f64::NAN,
        })
    }

    /// The effective options in the slots of `OPTION_NAMES` (see
    /// the kit's `option_slots`).
    pub fn options(&self) -> Vec<f64> {
        option_slots::<1_000_000>(self.machine.config())
    }

    /// The machine's flags outside a report: 4 transitions pending, 8 the
    /// next acquire needs the current time, 16 a success now is quiet (the
    /// same bits the reports return, in one crossing).
    #[wasm_bindgen(js_name = stateFlags)]
    pub fn state_flags(&self) -> u32 {
        self.flags(Report::default())
    }

    /// Delivers `count` successes of non-trial permits of `generation` that
    /// the JS layer held back while successes were quiet (issued and
    /// reported with no input in between, so with no time to tell), then
    /// acquires at `now` as `acquire` does.
    #[wasm_bindgen(js_name = acquireAfterSuccesses)]
    pub fn acquire_after_successes(&mut self, count: u32, generation: f64, now: f64) -> f64 {
        self.deliver_successes(count, generation);
        self.acquire(now)
    }

    /// Delivers held-back successes (see `acquireAfterSuccesses`).
    #[wasm_bindgen(js_name = deliverSuccesses)]
    pub fn deliver_successes(&mut self, count: u32, generation: f64) {
        let latest = self.machine.latest_time();
        for _ in 0..count {
            let _ = self
                .machine
                .on_success(Permit::from_raw(generation as u64, latest, 0), latest);
        }
    }

    /// Asks for a permit: its generation (>= 0), or, when rejected,
    /// `-1 - i` where `i` indexes the states for the rejecting state, with
    /// `RETRY_AFTER` set when the machine gave a time left, which
    /// `rejectedRetryAfter` then gives. After an admission
    /// `lastTrial`/`lastAcquiredAt` complete the permit.
    pub fn acquire(&mut self, now: f64) -> f64 {
        match self.machine.try_acquire(nanos(now)) {
            Decision::Admitted(permit) => {
                let (generation, acquired_at, trial) = permit.into_raw();
                self.last_trial = trial;
                self.last_acquired_at = acquired_at;
                generation as f64
            }
            Decision::Rejected(r) => {
                self.rejected_retry_after = r.retry_after.map_or(f64::NAN, millis_of);
                let has_retry_after = if r.retry_after.is_some() {
                    RETRY_AFTER
                } else {
                    0
                };
                -1.0 - f64::from(state_index(r.state) | has_retry_after)
            }
        }
    }

    /// The trial id of the last admitted permit (0: not a trial).
    #[wasm_bindgen(js_name = lastTrial)]
    pub fn last_trial(&self) -> f64 {
        self.last_trial as f64
    }

    /// When the last admitted permit was issued (opaque; pass it back).
    #[wasm_bindgen(js_name = lastAcquiredAt)]
    pub fn last_acquired_at(&self) -> f64 {
        self.last_acquired_at as f64
    }

    /// Milliseconds until a trial, for the last rejection (NaN: none).
    #[wasm_bindgen(js_name = rejectedRetryAfter)]
    pub fn rejected_retry_after(&self) -> f64 {
        self.rejected_retry_after
    }

    fn flags(&self, report: Report) -> u32 {
        let flag = |set: bool, bit: u32| if set { bit } else { 0 };
        flag(report.stale, STALE)
            | flag(report.slow, SLOW)
            | flag(self.machine.has_transitions(), TRANSITIONED)
            | flag(self.machine.needs_clock(), NEEDS_CLOCK)
            | flag(self.machine.success_is_quiet(), QUIET_SUCCESS)
    }

    fn permit(generation: f64, acquired_at: f64, trial: f64) -> Permit {
        Permit::from_raw(generation as u64, acquired_at as u64, trial as u64)
    }

    /// Reports success; returns flags (1 stale, 2 slow, 4 transitions
    /// pending, 8 the next acquire needs the current time, 16 quiet).
    pub fn success(&mut self, generation: f64, acquired_at: f64, trial: f64, now: f64) -> u32 {
        let report = self
            .machine
            .on_success(Self::permit(generation, acquired_at, trial), nanos(now));
        self.flags(report)
    }

    /// Reports failure, with the server's Retry-After hint in milliseconds
    /// (NaN for none; checked by the caller); returns flags as `success`.
    pub fn failure(
        &mut self,
        generation: f64,
        acquired_at: f64,
        trial: f64,
        now: f64,
        retry_after: f64,
    ) -> u32 {
        let permit = Self::permit(generation, acquired_at, trial);
        let report = if retry_after.is_nan() {
            self.machine.on_failure(permit, nanos(now))
        } else {
            let hint = Duration::from_nanos(nanos(retry_after));
            self.machine
                .on_failure_with_retry_after(permit, nanos(now), hint)
        };
        self.flags(report)
    }

    /// Releases the permit; returns flags as `success`.
    pub fn release(&mut self, generation: f64, acquired_at: f64, trial: f64, now: f64) -> u32 {
        let report = self
            .machine
            .release(Self::permit(generation, acquired_at, trial), nanos(now));
        self.flags(report)
    }

    /// Index of the state at `now`.
    pub fn state(&mut self, now: f64) -> u32 {
        state_index(self.machine.state(nanos(now)))
    }

    /// Milliseconds until a trial is admitted (NaN unless open).
    #[wasm_bindgen(js_name = retryAfter)]
    pub fn retry_after(&mut self, now: f64) -> f64 {
        self.machine
            .retry_after(nanos(now))
            .map_or(f64::NAN, millis_of)
    }

    /// The stats as numbers in the kit's `STATS_FIELDS` order
    /// (`Stats::field_values`), times in milliseconds; JS names them from
    /// npm/src/generated.js.
    pub fn stats(&mut self, now: f64) -> Vec<f64> {
        let stats: Stats = self.machine.stats(nanos(now));
        Vec::from(stats.field_values(convert::NANOS_PER_MILLI))
    }

    #[wasm_bindgen(js_name = forceOpen)]
    pub fn force_open(&mut self, now: f64) {
        self.machine.force_open(nanos(now))
    }

    #[wasm_bindgen(js_name = forceClosed)]
    pub fn force_closed(&mut self, now: f64) {
        self.machine.force_closed(nanos(now))
    }

    pub fn reset(&mut self, now: f64) {
        self.machine.reset(nanos(now))
    }

    /// The oldest undrained transition as `[from, to, reason, at,
    /// generation]` (state and reason indexes, at in milliseconds), or an
    /// empty array.
    #[wasm_bindgen(js_name = pollTransition)]
    pub fn poll_transition(&mut self) -> Vec<f64> {
        match self.machine.poll_transition() {
            None => Vec::new(),
            Some(t) => [
                f64::from(state_index(t.from)),
                f64::from(state_index(t.to)),
                f64::from(reason_index(t.reason)),
                millis(t.at),
                t.generation as f64,
            ]
            .to_vec(),
        }
    }

    /// The snapshot as a record (see `record.rs`).
    pub fn snapshot(&mut self, now: f64) -> Vec<f64> {
        record::write(&self.machine.snapshot(nanos(now)))
    }
}
