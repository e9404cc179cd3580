//! The WebAssembly face of `tripgate-core` for the npm package.
//!
//! Only numbers cross the boundary, through plain exported functions (no
//! wasm-bindgen: its glue and shims were a third of the module): options
//! arrive as numbers in fixed slots, times in milliseconds, permits as their
//! raw parts, and answers leave as numbers (state and reason indexes, flags,
//! arrays of figures) that the JS layer (`npm/src/wasm.js`, then
//! `npm/src/index.js`) names. A breaker is a pointer to a boxed
//! [`WasmBreaker`]; arrays cross through two module-held buffers (`input`,
//! `output`). A call allocates nothing in wasm memory, and the module
//! imports nothing, so no JS runs while a breaker is borrowed here. Every
//! decision is the core machine's.
//!
//! On wasm32 the crate is `no_std` (the core is built without its `std`
//! feature) with a small free-list allocator, so no std formatting or panic
//! machinery reaches the module: what a browser downloads stays small
//! (docs/benchmarks.md has the figures).

#![cfg_attr(target_arch = "wasm32", no_std)]

extern crate alloc;

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::cell::Cell;
use core::time::Duration;
use tripgate_core::binding::{call_timeout, option_slots, OptionSlots};
use tripgate_core::config::convert;
use tripgate_core::{
    ConfigError, Decision, Machine, Permit, Reason, Report, RestoreError, Snapshot, State, Stats,
};

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

/// Stops the module: JS sees a `WebAssembly.RuntimeError`.
fn trap() -> ! {
    #[cfg(target_arch = "wasm32")]
    core::arch::wasm32::unreachable();
    #[cfg(not(target_arch = "wasm32"))]
    unreachable!()
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
/// Only in `stateFlags`.
const IDLE: u32 = 32;

fn nanos(ms: f64) -> u64 {
    convert::instant(ms, convert::NANOS_PER_MILLI)
}

fn millis(nanos: u64) -> f64 {
    nanos as f64 / convert::NANOS_PER_MILLI
}

fn millis_of(duration: Duration) -> f64 {
    millis(duration.as_nanos() as u64)
}

fn state_index(state: State) -> u32 {
    state.index() as u32
}

fn reason_index(reason: Reason) -> u32 {
    reason.index() as u32
}

/// A module-held value. The module runs on one thread (wasm32 without the
/// atomics feature) and calls no JS, so nothing else can reach it while an
/// export runs.
struct Held<T>(Cell<T>);

// SAFETY: see `Held`: one thread, no re-entry.
unsafe impl<T> Sync for Held<T> {}

/// The numbers JS wrote for the next `create` (options, then a snapshot
/// record), and the numbers the last array-valued export answered.
static INPUT: Held<Vec<f64>> = Held(Cell::new(Vec::new()));
static OUTPUT: Held<Vec<f64>> = Held(Cell::new(Vec::new()));

/// Where JS writes `len` numbers for the next `create` (valid until the
/// next call into the module).
#[cfg_attr(target_arch = "wasm32", export_name = "input")]
pub extern "C" fn input(len: u32) -> *mut f64 {
    let mut values = INPUT.0.take();
    values.clear();
    values.resize(len as usize, f64::NAN);
    let at = values.as_mut_ptr();
    INPUT.0.set(values);
    at
}

/// Keeps `values` as the answer and gives its length; `output` is where
/// JS reads it.
fn answer(values: &[f64]) -> u32 {
    let mut held = OUTPUT.0.take();
    held.clear();
    held.extend_from_slice(values);
    OUTPUT.0.set(held);
    values.len() as u32
}

/// Where the last array-valued export's answer is (valid until the next
/// call into the module).
#[cfg_attr(target_arch = "wasm32", export_name = "output")]
pub extern "C" fn output() -> *const f64 {
    let held = OUTPUT.0.take();
    let at = held.as_ptr();
    OUTPUT.0.set(held);
    at
}

/// Why a `create` gave no breaker, as numbers: `[0, option slot,
/// requirement]` or `[1, snapshot field, problem]`, each an index into the
/// kit's lists (`Requirement::ALL`, `SnapshotField::ALL`,
/// `SnapshotProblem::ALL`), which npm/src/generated.js holds as text.
type Problem = [f64; 3];

/// The machine for the options (and snapshot record, when restoring), or
/// the problem.
fn build(
    values: &[f64],
    mask: u32,
    snapshot: Option<&[f64]>,
    now: f64,
) -> Result<Machine, Problem> {
    let option = |e: ConfigError| [0.0, e.slot as f64, e.requirement as u32 as f64];
    let config = OptionSlots::<1_000_000> { values, mask }
        .config()
        .map_err(option)?;
    let restored = match snapshot {
        None => Machine::new(config, nanos(now)).map_err(RestoreError::Config),
        Some(record) => Snapshot::from_record(record)
            .ok_or(RestoreError::MALFORMED)
            .and_then(|snapshot| Machine::restore(config, &snapshot, nanos(now))),
    };
    restored.map_err(|e| match e {
        RestoreError::Config(e) => option(e),
        RestoreError::Snapshot { field, problem } => {
            [1.0, field as u32 as f64, problem as u32 as f64]
        }
    })
}

/// The problem of the last `create` that gave no breaker, kept for
/// `problem` so that JS never builds a machine twice to learn why.
static PROBLEM: Held<Option<Problem>> = Held(Cell::new(None));

/// Why the last `create` gave no breaker, once, as an answer (see `output`
/// and `Problem`); no numbers after that.
#[cfg_attr(target_arch = "wasm32", export_name = "problem")]
pub extern "C" fn problem() -> u32 {
    answer(PROBLEM.0.take().as_ref().map_or(&[], |problem| problem))
}

/// The sizes a snapshot's window can never exceed, as an answer: `[buckets
/// of a time window, outcomes of a count window]`. JS sends no more than
/// one past them across, so a hostile snapshot cannot grow the module's
/// memory.
#[cfg_attr(target_arch = "wasm32", export_name = "limits")]
pub extern "C" fn limits() -> u32 {
    answer(&[
        f64::from(tripgate_core::config::WINDOW_BUCKETS),
        f64::from(tripgate_core::config::MAX_WINDOW_CALLS),
    ])
}

/// Judges a `callTimeout` of `ms` milliseconds by the kit's rule
/// (`binding::call_timeout`): the index in `Requirement::ALL` of the
/// requirement it fails, or -1 when it is valid.
#[cfg_attr(target_arch = "wasm32", export_name = "callTimeoutProblem")]
pub extern "C" fn call_timeout_problem(ms: f64) -> i32 {
    match call_timeout(ms, convert::NANOS_PER_MILLI) {
        Ok(_) => -1,
        Err(requirement) => requirement as i32,
    }
}

/// The machine behind a JS `CircuitBreaker`.
pub struct WasmBreaker {
    machine: Machine,
    last_trial: u64,
    last_acquired_at: u64,
    rejected_retry_after: f64,
}

/// The breaker at `at`, a pointer `create` gave and `free` has not taken.
/// JS keeps it private to its breaker object and zeroes it when it frees
/// it, and the module calls no JS, so no second reference exists while an
/// export runs; a zero traps.
fn breaker<'a>(at: *mut WasmBreaker) -> &'a mut WasmBreaker {
    // SAFETY: see above: a live, unaliased box from `create`, or null.
    match unsafe { at.as_mut() } {
        Some(breaker) => breaker,
        None => trap(),
    }
}

/// A closed breaker (or, given a snapshot record, one in its state) whose
/// clock reads `now` milliseconds, from the numbers last written to
/// `input`: `values_len` option slots (`values[i]` holds the option
/// `OPTION_NAMES[i]` when bit `i` of `mask` is set), then, when
/// `snapshot_len` is not negative, a snapshot record of that length. Null
/// if the options or snapshot are invalid (`problem` says why).
#[cfg_attr(target_arch = "wasm32", export_name = "create")]
pub extern "C" fn create(
    mask: u32,
    values_len: u32,
    snapshot_len: i32,
    now: f64,
) -> *mut WasmBreaker {
    let numbers = INPUT.0.take();
    let (values, rest) = numbers.split_at(numbers.len().min(values_len as usize));
    let snapshot = usize::try_from(snapshot_len)
        .ok()
        .map(|len| rest.get(..len).unwrap_or(rest));
    let built = build(values, mask, snapshot, now);
    INPUT.0.set(numbers);
    match built {
        Ok(machine) => Box::into_raw(Box::new(WasmBreaker {
            machine,
            last_trial: 0,
            last_acquired_at: 0,
            rejected_retry_after: f64::NAN,
        })),
        Err(problem) => {
            PROBLEM.0.set(Some(problem));
            core::ptr::null_mut()
        }
    }
}

/// Frees a breaker `create` gave.
///
/// # Safety
/// `at` is null or a pointer `create` gave that has not been freed (JS
/// zeroes its copy before it frees it, so it frees once).
#[cfg_attr(target_arch = "wasm32", export_name = "free")]
pub unsafe extern "C" fn free(at: *mut WasmBreaker) {
    if !at.is_null() {
        // SAFETY: see above.
        drop(unsafe { Box::from_raw(at) });
    }
}

/// The effective options in the slots of `OPTION_NAMES` (see the kit's
/// `option_slots`), as an answer.
#[cfg_attr(target_arch = "wasm32", export_name = "options")]
pub extern "C" fn options(at: *mut WasmBreaker) -> u32 {
    answer(&option_slots::<1_000_000>(breaker(at).machine.config()))
}

/// The machine's flags outside a report: 4 transitions pending, 8 the next
/// acquire needs the current time, 16 a success now is quiet (the same bits
/// the reports return, in one crossing), and 32 the machine is idle
/// (`Machine::is_idle`: a group may evict it).
#[cfg_attr(target_arch = "wasm32", export_name = "stateFlags")]
pub extern "C" fn state_flags(at: *mut WasmBreaker) -> u32 {
    let b = breaker(at);
    b.flags(Report::default()) | if b.machine.is_idle() { IDLE } else { 0 }
}

/// Delivers `count` successes of non-trial permits of `generation` that the
/// JS layer held back while successes were quiet (issued and reported with
/// no input in between, so with no time to tell), then acquires at `now` as
/// `acquire` does.
#[cfg_attr(target_arch = "wasm32", export_name = "acquireAfterSuccesses")]
pub extern "C" fn acquire_after_successes(
    at: *mut WasmBreaker,
    count: u32,
    generation: f64,
    now: f64,
) -> f64 {
    let b = breaker(at);
    b.deliver_successes(count, generation);
    b.acquire(now)
}

/// Delivers held-back successes (see `acquireAfterSuccesses`).
#[cfg_attr(target_arch = "wasm32", export_name = "deliverSuccesses")]
pub extern "C" fn deliver_successes(at: *mut WasmBreaker, count: u32, generation: f64) {
    breaker(at).deliver_successes(count, generation)
}

/// Asks for a permit: its generation (>= 0), or, when rejected, `-1 - i`
/// where `i` indexes the states for the rejecting state, with `RETRY_AFTER`
/// set when the machine gave a time left, which `rejectedRetryAfter` then
/// gives. After an admission `lastTrial`/`lastAcquiredAt` complete the
/// permit.
#[cfg_attr(target_arch = "wasm32", export_name = "acquire")]
pub extern "C" fn acquire(at: *mut WasmBreaker, now: f64) -> f64 {
    breaker(at).acquire(now)
}

/// The trial id of the last admitted permit (0: not a trial).
#[cfg_attr(target_arch = "wasm32", export_name = "lastTrial")]
pub extern "C" fn last_trial(at: *mut WasmBreaker) -> f64 {
    breaker(at).last_trial as f64
}

/// When the last admitted permit was issued (opaque; pass it back).
#[cfg_attr(target_arch = "wasm32", export_name = "lastAcquiredAt")]
pub extern "C" fn last_acquired_at(at: *mut WasmBreaker) -> f64 {
    breaker(at).last_acquired_at as f64
}

/// Milliseconds until a trial, for the last rejection (NaN: none).
#[cfg_attr(target_arch = "wasm32", export_name = "rejectedRetryAfter")]
pub extern "C" fn rejected_retry_after(at: *mut WasmBreaker) -> f64 {
    breaker(at).rejected_retry_after
}

/// Reports success; returns flags (1 stale, 2 slow, 4 transitions pending,
/// 8 the next acquire needs the current time, 16 quiet).
#[cfg_attr(target_arch = "wasm32", export_name = "success")]
pub extern "C" fn success(
    at: *mut WasmBreaker,
    generation: f64,
    acquired_at: f64,
    trial: f64,
    now: f64,
) -> u32 {
    let b = breaker(at);
    let report = b
        .machine
        .on_success(permit(generation, acquired_at, trial), nanos(now));
    b.flags(report)
}

/// Reports failure, with the server's Retry-After hint in milliseconds (NaN
/// for none; checked by the caller); returns flags as `success`.
#[cfg_attr(target_arch = "wasm32", export_name = "failure")]
pub extern "C" fn failure(
    at: *mut WasmBreaker,
    generation: f64,
    acquired_at: f64,
    trial: f64,
    now: f64,
    retry_after: f64,
) -> u32 {
    let b = breaker(at);
    let permit = permit(generation, acquired_at, trial);
    let report = if retry_after.is_nan() {
        b.machine.on_failure(permit, nanos(now))
    } else {
        let hint = Duration::from_nanos(nanos(retry_after));
        b.machine
            .on_failure_with_retry_after(permit, nanos(now), hint)
    };
    b.flags(report)
}

/// Releases the permit; returns flags as `success`.
#[cfg_attr(target_arch = "wasm32", export_name = "release")]
pub extern "C" fn release(
    at: *mut WasmBreaker,
    generation: f64,
    acquired_at: f64,
    trial: f64,
    now: f64,
) -> u32 {
    let b = breaker(at);
    let report = b
        .machine
        .release(permit(generation, acquired_at, trial), nanos(now));
    b.flags(report)
}

fn permit(generation: f64, acquired_at: f64, trial: f64) -> Permit {
    Permit::from_raw(generation as u64, acquired_at as u64, trial as u64)
}

/// Index of the state at `now`.
#[cfg_attr(target_arch = "wasm32", export_name = "state")]
pub extern "C" fn state(at: *mut WasmBreaker, now: f64) -> u32 {
    state_index(breaker(at).machine.state(nanos(now)))
}

/// Milliseconds until a trial is admitted (NaN unless open).
#[cfg_attr(target_arch = "wasm32", export_name = "retryAfter")]
pub extern "C" fn retry_after(at: *mut WasmBreaker, now: f64) -> f64 {
    breaker(at)
        .machine
        .retry_after(nanos(now))
        .map_or(f64::NAN, millis_of)
}

/// The stats as an answer, in the kit's `STATS_FIELDS` order
/// (`Stats::field_values`), times in milliseconds; JS names them from
/// npm/src/generated.js.
#[cfg_attr(target_arch = "wasm32", export_name = "stats")]
pub extern "C" fn stats(at: *mut WasmBreaker, now: f64) -> u32 {
    let stats: Stats = breaker(at).machine.stats(nanos(now));
    answer(&stats.field_values(convert::NANOS_PER_MILLI))
}

#[cfg_attr(target_arch = "wasm32", export_name = "forceOpen")]
pub extern "C" fn force_open(at: *mut WasmBreaker, now: f64) {
    breaker(at).machine.force_open(nanos(now))
}

#[cfg_attr(target_arch = "wasm32", export_name = "forceClosed")]
pub extern "C" fn force_closed(at: *mut WasmBreaker, now: f64) {
    breaker(at).machine.force_closed(nanos(now))
}

#[cfg_attr(target_arch = "wasm32", export_name = "reset")]
pub extern "C" fn reset(at: *mut WasmBreaker, now: f64) {
    breaker(at).machine.reset(nanos(now))
}

/// The oldest undrained transition as an answer, `[from, to, reason, at,
/// generation]` (state and reason indexes, at in milliseconds), or no
/// numbers.
#[cfg_attr(target_arch = "wasm32", export_name = "pollTransition")]
pub extern "C" fn poll_transition(at: *mut WasmBreaker) -> u32 {
    match breaker(at).machine.poll_transition() {
        None => answer(&[]),
        Some(t) => answer(&[
            f64::from(state_index(t.from)),
            f64::from(state_index(t.to)),
            f64::from(reason_index(t.reason)),
            millis(t.at),
            t.generation as f64,
        ]),
    }
}

/// The snapshot as a record (the kit's `Snapshot::to_record`), as an answer.
#[cfg_attr(target_arch = "wasm32", export_name = "snapshot")]
pub extern "C" fn snapshot(at: *mut WasmBreaker, now: f64) -> u32 {
    answer(&breaker(at).machine.snapshot(nanos(now)).to_record())
}

impl WasmBreaker {
    /// Held back while successes were quiet; the machine takes them.
    fn deliver_successes(&mut self, count: u32, generation: f64) {
        self.machine.held_calls(generation as u64, 0, count.into());
    }

    fn acquire(&mut self, now: f64) -> f64 {
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

    fn flags(&self, report: Report) -> u32 {
        let flag = |set: bool, bit: u32| if set { bit } else { 0 };
        flag(report.stale, STALE)
            | flag(report.slow, SLOW)
            | flag(self.machine.has_transitions(), TRANSITIONED)
            | flag(self.machine.needs_clock(), NEEDS_CLOCK)
            | flag(self.machine.success_is_quiet(), QUIET_SUCCESS)
    }
}
