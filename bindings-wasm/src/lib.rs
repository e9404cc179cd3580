//! The WebAssembly face of `tripgate-core` for the npm package. Only numbers
//! cross the boundary on the hot path (times in milliseconds, permits as
//! their raw parts), so a call allocates nothing in wasm memory; the JS layer
//! (`npm/src/`) builds the public API on top. Every decision is the core
//! machine's.

mod options;

use js_sys::{Object, Reflect};
use tripgate_core::{Decision, Machine, Permit, Report, RestoreError, Snapshot, State};
use wasm_bindgen::prelude::*;

/// Report flags returned to JS.
const STALE: u32 = 1;
const SLOW: u32 = 2;
const TRANSITIONED: u32 = 4;
const NEEDS_CLOCK: u32 = 8;
const QUIET_SUCCESS: u32 = 16;

fn nanos(ms: f64) -> u64 {
    if ms.is_finite() && ms > 0.0 {
        (ms * 1e6).round() as u64
    } else {
        0
    }
}

fn millis(nanos: u64) -> f64 {
    nanos as f64 / 1e6
}

fn state_index(state: State) -> u32 {
    State::ALL.iter().position(|s| *s == state).unwrap_or(0) as u32
}

fn set(object: &Object, key: &str, value: impl Into<JsValue>) {
    // Setting a property on a fresh plain object cannot fail.
    let _ = Reflect::set(object, &JsValue::from_str(key), &value.into());
}

/// The machine behind a JS `CircuitBreaker`.
#[wasm_bindgen]
pub struct WasmBreaker {
    machine: Machine,
    call_timeout: Option<f64>,
    last_trial: u64,
    last_acquired_at: u64,
    rejected_retry_after: f64,
}

#[wasm_bindgen]
impl WasmBreaker {
    /// Validates `options` (throwing `TypeError`/`RangeError`) and builds a
    /// closed breaker whose clock reads `now` milliseconds.
    #[wasm_bindgen(constructor)]
    pub fn new(options: &JsValue, now: f64) -> Result<WasmBreaker, JsValue> {
        let parsed = options::parse(options)?;
        let machine = Machine::new(parsed.config, nanos(now)).map_err(options::config_error)?;
        Ok(Self::around(machine, parsed.call_timeout))
    }

    fn around(machine: Machine, call_timeout: Option<f64>) -> WasmBreaker {
        WasmBreaker {
            machine,
            call_timeout,
            last_trial: 0,
            last_acquired_at: 0,
            rejected_retry_after: f64::NAN,
        }
    }

    /// A breaker with `options` in the state of `snapshot` (JSON text);
    /// throws an `Error` whose `code` is `invalid_snapshot` and whose
    /// `field` names the offending field.
    pub fn restore(options: &JsValue, snapshot: &str, now: f64) -> Result<WasmBreaker, JsValue> {
        let parsed = options::parse(options)?;
        let invalid = |field: &str, message: String| -> JsValue {
            let error = js_sys::Error::new(&message);
            set(&error, "code", "invalid_snapshot");
            set(&error, "field", field);
            error.into()
        };
        let machine = Snapshot::from_json(snapshot)
            .and_then(|snapshot| Machine::restore(parsed.config, &snapshot, nanos(now)))
            .map_err(|e| match &e {
                // Not e.to_string(): RestoreError's Display reaches the
                // config errors' float formatting, kilobytes of code.
                RestoreError::Snapshot { field, problem } => {
                    invalid(field, format!("invalid snapshot: {field} {problem}"))
                }
                RestoreError::Config(c) => options::config_error(c.clone()),
            })?;
        Ok(Self::around(machine, parsed.call_timeout))
    }

    /// `callTimeout` in milliseconds, or undefined.
    #[wasm_bindgen(getter, js_name = callTimeout)]
    pub fn call_timeout(&self) -> Option<f64> {
        self.call_timeout
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
    /// `-1 - i` where `i` indexes `STATES` for the rejecting state. After an
    /// admission `lastTrial`/`lastAcquiredAt` complete the permit; after a
    /// rejection in `open`, `rejectedRetryAfter` gives the time left.
    pub fn acquire(&mut self, now: f64) -> f64 {
        match self.machine.try_acquire(nanos(now)) {
            Decision::Admitted(permit) => {
                let (generation, acquired_at, trial) = permit.into_raw();
                self.last_trial = trial;
                self.last_acquired_at = acquired_at;
                generation as f64
            }
            Decision::Rejected(r) => {
                self.rejected_retry_after = r
                    .retry_after
                    .map_or(f64::NAN, |d| d.as_nanos() as f64 / 1e6);
                -1.0 - f64::from(state_index(r.state))
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
    /// pending, 8 the next acquire needs the current time).
    pub fn success(&mut self, generation: f64, acquired_at: f64, trial: f64, now: f64) -> u32 {
        let report = self
            .machine
            .on_success(Self::permit(generation, acquired_at, trial), nanos(now));
        self.flags(report)
    }

    /// Reports failure; returns flags as `success`.
    pub fn failure(&mut self, generation: f64, acquired_at: f64, trial: f64, now: f64) -> u32 {
        let report = self
            .machine
            .on_failure(Self::permit(generation, acquired_at, trial), nanos(now));
        self.flags(report)
    }

    /// Releases the permit; returns flags as `success`.
    pub fn release(&mut self, generation: f64, acquired_at: f64, trial: f64, now: f64) -> u32 {
        let report = self
            .machine
            .release(Self::permit(generation, acquired_at, trial), nanos(now));
        self.flags(report)
    }

    /// Index into `STATES` of the state at `now`.
    pub fn state(&mut self, now: f64) -> u32 {
        state_index(self.machine.state(nanos(now)))
    }

    /// Milliseconds until a trial is admitted (NaN unless open).
    #[wasm_bindgen(js_name = retryAfter)]
    pub fn retry_after(&mut self, now: f64) -> f64 {
        self.machine
            .retry_after(nanos(now))
            .map_or(f64::NAN, |d| d.as_nanos() as f64 / 1e6)
    }

    /// The stats as a plain object (camelCase keys, milliseconds).
    pub fn stats(&mut self, now: f64) -> Object {
        let s = self.machine.stats(nanos(now));
        let o = Object::new();
        set(&o, "state", s.state.name());
        set(&o, "generation", s.generation as f64);
        set(&o, "admitted", s.admitted as f64);
        set(&o, "successes", s.successes as f64);
        set(&o, "failures", s.failures as f64);
        set(&o, "slowCalls", s.slow_calls as f64);
        set(&o, "rejections", s.rejections as f64);
        set(&o, "released", s.released as f64);
        set(&o, "staleOutcomes", s.stale_outcomes as f64);
        set(&o, "trialTimeouts", s.trial_timeouts as f64);
        set(&o, "consecutiveFailures", s.consecutive_failures);
        set(&o, "windowCalls", s.window_calls);
        set(&o, "windowFailures", s.window_failures);
        set(
            &o,
            "failureRate",
            s.failure_rate.map_or(JsValue::NULL, JsValue::from),
        );
        set(&o, "trialsInFlight", s.trials_in_flight);
        set(&o, "inFlight", s.in_flight() as f64);
        set(
            &o,
            "lastTransitionAt",
            s.last_transition_at
                .map_or(JsValue::NULL, |t| millis(t).into()),
        );
        set(
            &o,
            "retryAfter",
            s.retry_after
                .map_or(JsValue::NULL, |d| (d.as_nanos() as f64 / 1e6).into()),
        );
        o
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

    /// The oldest undrained transition as `{from, to, reason, at, generation}`
    /// (at in milliseconds), or undefined.
    #[wasm_bindgen(js_name = pollTransition)]
    pub fn poll_transition(&mut self) -> Option<Object> {
        self.machine.poll_transition().map(|t| {
            let o = Object::new();
            set(&o, "from", t.from.name());
            set(&o, "to", t.to.name());
            set(&o, "reason", t.reason.name());
            set(&o, "at", millis(t.at));
            set(&o, "generation", t.generation as f64);
            o
        })
    }

    /// The snapshot as JSON text (the format of docs/semantics.md).
    #[wasm_bindgen(js_name = snapshotJson)]
    pub fn snapshot_json(&mut self, now: f64) -> String {
        self.machine.snapshot(nanos(now)).to_json()
    }
}

/// The state names, in the order `state()` indexes them.
#[wasm_bindgen(js_name = stateNames)]
pub fn state_names() -> Vec<String> {
    State::ALL.iter().map(|s| s.name().to_string()).collect()
}

/// The transition reasons.
#[wasm_bindgen(js_name = reasonNames)]
pub fn reason_names() -> Vec<String> {
    tripgate_core::Reason::ALL
        .iter()
        .map(|r| r.name().to_string())
        .collect()
}

/// The canonical option names, in JS spelling.
#[wasm_bindgen(js_name = optionNames)]
pub fn option_names() -> Vec<String> {
    tripgate_core::config::OPTION_NAMES
        .iter()
        .map(|o| options::camel(o))
        .collect()
}
