//! The native breaker: the core machine behind a mutex, a clock, the
//! classification of a call's outcome, and events. It converts and reports;
//! every state decision is the machine's. The mutex is never held while
//! Python code runs (the protected call, a clock, a listener, a predicate).

use std::sync::Mutex;
use std::time::Duration;

use pyo3::exceptions::{PyException, PyTypeError};
use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};
use pyo3::PyTraverseError;
use tripgate_core::binding::{CauseChange, STATS_FIELDS, STATS_TIME_FIELDS};
use tripgate_core::{
    Config, Decision, Locked, Machine, Permit, Rejection, RestoreError, SharedMachine, Snapshot,
    Transition,
};

use crate::clock::{seconds, TimeSource};
use crate::errors::{error_types, log_caught, log_predicate_error};
use crate::events::{CallEvent, Event, Listeners, EVENTS};
use crate::options::{self, hint, BindingOptions};
use crate::permit::PermitHandle;

/// How a finished call counts.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Success,
    Failure,
    Released,
}

/// Asks a user predicate whether `value` makes the call a failure: a true
/// answer is a failure, a false one `otherwise`; a predicate that raises is
/// logged and the call counts as a failure.
fn ask(
    py: Python<'_>,
    option: &str,
    predicate: &Py<PyAny>,
    value: &Bound<'_, PyAny>,
    otherwise: Outcome,
) -> Outcome {
    match predicate.call1(py, (value,)).and_then(|v| v.is_truthy(py)) {
        Ok(true) => Outcome::Failure,
        Ok(false) => otherwise,
        Err(e) => {
            log_predicate_error(py, option, e);
            Outcome::Failure
        }
    }
}

/// The native half of `tripgate.CircuitBreaker`.
#[pyclass(module = "tripgate._native", name = "Breaker", subclass, frozen)]
pub struct Breaker {
    /// The machine, with the lock-free path of its closed state.
    machine: SharedMachine,
    config: Config,
    time: TimeSource,
    name: Option<Py<PyString>>,
    pub(crate) call_timeout: Option<u64>,
    is_failure: Option<Py<PyAny>>,
    is_result_failure: Option<Py<PyAny>>,
    retry_after_hint: Option<Py<PyAny>>,
    fallback: Option<Py<PyAny>>,
    exclude: Option<Py<PyTuple>>,
    /// The exception of the failure that opened the breaker, kept until it
    /// closes: the `__cause__` of its rejections.
    cause: Mutex<Option<Py<PyAny>>>,
    pub(crate) listeners: Listeners,
}

/// How a finished call ended, for `Breaker::settle`.
pub(crate) struct Ending<'a, 'py> {
    pub outcome: Outcome,
    /// The exception it raised, if any.
    pub error: Option<&'a Bound<'py, PyAny>>,
    /// The value it returned, if any.
    pub value: Option<&'a Bound<'py, PyAny>>,
    /// A Retry-After hint given with the failure (two-step permits).
    pub hint: Option<Duration>,
    /// The caller already enforced `call_timeout`.
    pub timed_out: bool,
}

impl<'a, 'py> Ending<'a, 'py> {
    /// An outcome with nothing else known.
    pub fn of(outcome: Outcome) -> Self {
        Ending {
            outcome,
            error: None,
            value: None,
            hint: None,
            timed_out: false,
        }
    }

    pub fn raised(outcome: Outcome, error: &'a Bound<'py, PyAny>) -> Self {
        Ending {
            error: Some(error),
            ..Ending::of(outcome)
        }
    }

    pub fn returned(outcome: Outcome, value: &'a Bound<'py, PyAny>) -> Self {
        Ending {
            value: Some(value),
            ..Ending::of(outcome)
        }
    }
}

/// What a report knows of the time before it reaches the machine.
#[derive(Clone, Copy)]
enum Reading {
    /// The clock was not read (the machine reads it if it needs it).
    Unread,
    /// The injected clock read this.
    Read(u64),
    /// The clock failed (its error is logged): the latest time is used.
    Failed,
}

/// What `acquire` hands to the code that makes the call.
pub struct Admission {
    pub(crate) raw: (u64, u64, u64),
    /// The machine's answer: its report uses the permit's issue time.
    issue_time_matters: bool,
    /// When the call started, read only where something measures it.
    started: Option<u64>,
}

impl Admission {
    /// A permit that is not a trial, with nothing measured, whose issue time
    /// no report uses (there is no slow-call limit).
    fn plain(generation: u64) -> Admission {
        Admission {
            raw: (generation, 0, 0),
            started: None,
            issue_time_matters: false,
        }
    }
}

impl Breaker {
    pub(crate) fn lock(&self) -> Locked<'_> {
        self.machine.lock()
    }

    /// Runs `f` on the machine with the current time, then emits the state
    /// changes it caused. The clock is read only where the machine needs the
    /// time, unless `always_read_clock` (an injected clock is always read).
    /// A failing clock's error is returned, with the machine untouched.
    fn operate<R>(
        &self,
        py: Python<'_>,
        always_read_clock: bool,
        f: impl FnOnce(&mut Machine, u64) -> R,
    ) -> PyResult<R> {
        let injected = self.time.custom(py)?;
        Ok(self.operate_at(py, injected, always_read_clock, None, f))
    }

    /// As `operate`, for reporting an outcome, which must be recorded
    /// whatever the clock does: a failing clock's error is logged and the
    /// outcome recorded at the latest time the machine has seen. `read` is
    /// the reading the report already made, if any.
    fn operate_report<R>(
        &self,
        py: Python<'_>,
        read: Reading,
        always_read_clock: bool,
        cause: Option<&Bound<'_, PyAny>>,
        f: impl FnOnce(&mut Machine, u64) -> R,
    ) -> R {
        let injected = match read {
            Reading::Read(now) => Some(now),
            // 0 is never later than the latest time: the machine takes that.
            Reading::Failed => Some(0),
            Reading::Unread => self
                .report_reading(py, |time, py| time.custom(py))
                .unwrap_or(Some(0)),
        };
        self.operate_at(py, injected, always_read_clock, cause, f)
    }

    /// Reads the time with `read`; a failing clock's error is logged (it
    /// cannot go to the caller, who is owed the call's own outcome).
    fn report_reading<T>(
        &self,
        py: Python<'_>,
        read: impl FnOnce(&TimeSource, Python<'_>) -> PyResult<T>,
    ) -> Option<T> {
        match read(&self.time, py) {
            Ok(value) => Some(value),
            Err(e) => {
                log_caught(
                    py,
                    "the clock",
                    "the outcome was recorded at the latest time the breaker had seen",
                    e,
                );
                None
            }
        }
    }

    /// `cause`: the exception of the failure `f` reports, which becomes the
    /// cause of rejections if the breaker opens.
    fn operate_at<R>(
        &self,
        py: Python<'_>,
        injected: Option<u64>,
        always_read_clock: bool,
        cause: Option<&Bound<'_, PyAny>>,
        f: impl FnOnce(&mut Machine, u64) -> R,
    ) -> R {
        let (result, transitions) = {
            let mut machine = self.lock();
            let now = match injected {
                Some(now) => now,
                None if always_read_clock || machine.needs_clock() => {
                    self.time.monotonic().unwrap_or(0)
                }
                None => machine.latest_time(),
            };
            let result = f(&mut machine, now);
            let transitions: Vec<Transition> = if machine.has_transitions() {
                std::iter::from_fn(|| machine.poll_transition()).collect()
            } else {
                Vec::new()
            };
            (result, transitions)
        };
        if !transitions.is_empty() {
            self.keep_cause(&transitions, cause);
            self.listeners.state_changes(py, transitions);
        }
        result
    }

    /// After `transitions`: each changes the kept cause of rejections as the
    /// kit says (`cause`, the failure's error, is taken when it opened the breaker).
    fn keep_cause(&self, transitions: &[Transition], cause: Option<&Bound<'_, PyAny>>) {
        let mut kept = self.cause.lock().unwrap_or_else(|e| e.into_inner());
        for t in transitions {
            match CauseChange::entering(t.to) {
                CauseChange::Take => *kept = cause.map(|c| c.clone().unbind()),
                CauseChange::Keep => {}
                CauseChange::Drop => *kept = None,
            }
        }
    }

    /// The fallback's answer to `err`, if the breaker has a fallback and
    /// `err` is an `Exception` (a cancellation or an interrupt is the
    /// caller's, not the call's); otherwise `err`.
    pub(crate) fn fall_back(&self, py: Python<'_>, err: PyErr) -> PyResult<PyObject> {
        let Some(fallback) = &self.fallback else {
            return Err(err);
        };
        let error = err.value(py).clone().into_any();
        if !error.is_instance_of::<PyException>() {
            return Err(err);
        }
        self.emit_fallback(py, &error);
        fallback.call1(py, (error,))
    }

    pub(crate) fn emit_fallback(&self, py: Python<'_>, error: &Bound<'_, PyAny>) {
        self.emit_call(py, Event::Fallback, |event| CallEvent {
            error: Some(error.clone().unbind()),
            ..event
        });
    }

    /// Emits the call event `kind` of this breaker, as `fill` completes it,
    /// when a listener wants it.
    fn emit_call(&self, py: Python<'_>, kind: Event, fill: impl FnOnce(CallEvent) -> CallEvent) {
        self.listeners.emit(py, kind, || {
            let event = fill(CallEvent::of(EVENTS[kind as usize], self.name(py)));
            Ok(Py::new(py, event)?.into_any())
        });
    }

    /// The Retry-After hint `retry_after_hint` finds in a failed call's
    /// exception or result; one that raises, or answers what is not a number
    /// of seconds, is logged and gives no hint.
    fn hint_of(&self, py: Python<'_>, subject: Option<&Bound<'_, PyAny>>) -> Option<Duration> {
        let extract = self.retry_after_hint.as_ref()?;
        let subject = match subject {
            Some(s) => s.clone(),
            None => py.None().into_bound(py),
        };
        let found = extract.bind(py).call1((subject,)).and_then(|answer| {
            if answer.is_none() {
                Ok(None)
            } else {
                hint("retry_after_hint", "return", &answer).map(Some)
            }
        });
        match found {
            Ok(found) => found,
            Err(e) => {
                log_caught(
                    py,
                    "retry_after_hint",
                    "the failure counts without a Retry-After hint",
                    e,
                );
                None
            }
        }
    }

    fn circuit_open_error(&self, py: Python<'_>, rejection: Rejection) -> PyErr {
        let retry_after = rejection.retry_after.map(|d| d.as_secs_f64());
        let cause = self
            .cause
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|c| c.clone_ref(py));
        match error_types(py).and_then(|t| {
            let error = t.circuit_open.bind(py).call1((
                rejection.state.name(),
                retry_after,
                self.name(py),
            ))?;
            if let Some(cause) = cause {
                // `raise error from cause`, at C speed: a rejection is on the
                // hot path of an open breaker. PyException_SetCause (limited
                // API) steals the reference it is given.
                unsafe { pyo3::ffi::PyException_SetCause(error.as_ptr(), cause.into_ptr()) };
            }
            Ok(error)
        }) {
            Ok(error) => PyErr::from_value(error),
            Err(e) => e,
        }
    }

    /// Asks the machine for a permit; a rejection is emitted and returned as
    /// a fresh `CircuitOpenError`.
    /// Every clock reading happens before the machine is asked: a failing
    /// clock's error is returned with nothing admitted.
    /// Whether a call needs nothing but a permit and its outcome: no call
    /// timeout, no listener of calls, no injected clock to read.
    fn is_plain(&self) -> bool {
        self.call_timeout.is_none()
            && !self.listeners.wants_calls()
            && matches!(self.time, TimeSource::Monotonic { .. })
    }

    /// The generation of a plain call's permit taken without the lock, when
    /// the machine has opened that path (closed, nothing time-based); None:
    /// ask it under the lock.
    fn try_acquire_plain(&self) -> Option<u64> {
        if !self.is_plain() {
            return None;
        }
        self.machine
            .try_acquire_fast()
            .map(|permit| permit.into_raw().0)
    }

    /// Reports the success of a plain call's permit of `generation` without
    /// the lock, when it can only count; false: report it under the lock.
    fn succeed_plain(&self, generation: u64) -> bool {
        self.is_plain()
            && self
                .machine
                .succeed_fast(&Permit::from_raw(generation, 0, 0))
    }

    pub fn acquire(&self, py: Python<'_>) -> PyResult<Result<Admission, Rejection>> {
        if let Some(generation) = self.try_acquire_plain() {
            return Ok(Ok(Admission::plain(generation)));
        }
        let injected = self.time.custom(py)?;
        let measured = self.call_timeout.is_some() || self.listeners.wants_calls();
        let started = if measured {
            injected.or_else(|| self.time.monotonic())
        } else {
            None
        };
        let (decision, issue_time_matters) =
            self.operate_at(py, injected, false, None, |m, now| {
                (m.try_acquire(now), m.reports_use_issue_time())
            });
        match decision {
            Decision::Admitted(permit) => Ok(Ok(Admission {
                raw: permit.into_raw(),
                started,
                issue_time_matters,
            })),
            Decision::Rejected(rejection) => {
                self.emit_call(py, Event::Rejected, |event| CallEvent {
                    state: Some(rejection.state.name()),
                    retry_after: rejection.retry_after.map(|d| d.as_secs_f64()),
                    ..event
                });
                Ok(Err(rejection))
            }
        }
    }

    pub fn acquire_or_raise(&self, py: Python<'_>) -> PyResult<Admission> {
        self.acquire(py)?
            .map_err(|r| self.circuit_open_error(py, r))
    }

    pub(crate) fn classify_error(&self, py: Python<'_>, error: &Bound<'_, PyAny>) -> Outcome {
        // CancelledError, KeyboardInterrupt, SystemExit and GeneratorExit are
        // not failures of the dependency.
        if !error.is_instance_of::<PyException>() {
            return Outcome::Released;
        }
        if let Some(exclude) = &self.exclude {
            if error.is_instance(exclude.bind(py)).unwrap_or(false) {
                return Outcome::Released;
            }
        }
        match &self.is_failure {
            None => Outcome::Failure,
            Some(predicate) => ask(py, "is_failure", predicate, error, Outcome::Released),
        }
    }

    pub(crate) fn classify_result(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> Outcome {
        match &self.is_result_failure {
            None => Outcome::Success,
            Some(predicate) => ask(py, "is_result_failure", predicate, value, Outcome::Success),
        }
    }

    /// Reports a call's outcome. A call held longer than `call_timeout`
    /// counts as a failure (`timed_out` says the caller already enforced it).
    /// A failure carries the Retry-After hint given, or else the one
    /// `retry_after_hint` finds. It cannot fail: the outcome is recorded
    /// whatever the clock does.
    pub(crate) fn settle(&self, py: Python<'_>, admission: &Admission, ending: Ending<'_, '_>) {
        let Ending {
            outcome,
            error,
            value,
            hint,
            timed_out,
        } = ending;
        let (ended, read) = match admission.started {
            None => (None, Reading::Unread),
            Some(_) => match self.report_reading(py, TimeSource::now) {
                Some(now) => (Some(now), Reading::Read(now)),
                None => (None, Reading::Failed),
            },
        };
        let duration = admission
            .started
            .zip(ended)
            .map(|(s, e)| e.saturating_sub(s));
        let over_time = timed_out
            || matches!((duration, self.call_timeout), (Some(d), Some(limit)) if d > limit);
        let outcome = if over_time && outcome != Outcome::Released {
            Outcome::Failure
        } else {
            outcome
        };
        let hint = match outcome {
            Outcome::Failure => hint.or_else(|| self.hint_of(py, error.or(value))),
            Outcome::Success | Outcome::Released => None,
        };
        let (generation, acquired_at, trial) = admission.raw;
        let permit = Permit::from_raw(generation, acquired_at, trial);
        // A plain call's success, on a still-open lock-free path.
        if outcome == Outcome::Success
            && matches!(read, Reading::Unread)
            && trial == 0
            && self.succeed_plain(generation)
        {
            return;
        }
        let failed = outcome == Outcome::Failure;
        let cause = error.filter(|_| failed);
        let report = self.operate_report(py, read, failed, cause, |m, now| match (outcome, hint) {
            (Outcome::Success, _) => m.on_success(permit, now),
            (Outcome::Failure, None) => m.on_failure(permit, now),
            (Outcome::Failure, Some(hint)) => m.on_failure_with_retry_after(permit, now, hint),
            (Outcome::Released, _) => m.release(permit, now),
        });
        if self.listeners.wants_calls() {
            let event = |kind| {
                self.emit_call(py, kind, |event| CallEvent {
                    duration: duration.map(seconds),
                    error: error.map(|e| e.clone().unbind()),
                    slow: report.slow,
                    stale: report.stale,
                    ..event
                })
            };
            if over_time {
                event(Event::Timeout);
            }
            match outcome {
                Outcome::Success => event(Event::Success),
                Outcome::Failure => event(Event::Failure),
                Outcome::Released => {}
            }
        }
    }

    /// Makes the call `func(*args, **kwargs)` through the breaker; with a
    /// fallback, a rejection or an exception from the call is answered by it.
    pub fn guarded_call(
        &self,
        py: Python<'_>,
        func: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<PyObject> {
        // A failing clock's error is the caller's, not the call's: only a
        // rejection is answered by the fallback.
        let admission = match self.acquire(py)? {
            Ok(admission) => admission,
            Err(rejection) => return self.fall_back(py, self.circuit_open_error(py, rejection)),
        };
        match func.call(args, kwargs) {
            Ok(value) => {
                let outcome = self.classify_result(py, &value);
                self.settle(py, &admission, Ending::returned(outcome, &value));
                Ok(value.unbind())
            }
            Err(err) => {
                let error = err.value(py).clone().into_any();
                let outcome = self.classify_error(py, &error);
                self.settle(py, &admission, Ending::raised(outcome, &error));
                self.fall_back(py, err)
            }
        }
    }

    fn snapshot_error(py: Python<'_>, field: &str, message: String) -> PyErr {
        match error_types(py).and_then(|t| t.invalid_snapshot.bind(py).call1((message, field))) {
            Ok(error) => PyErr::from_value(error),
            Err(e) => e,
        }
    }
}

#[pymethods]
impl Breaker {
    /// Every option by its keyword (the Python layer's `__init__` lists them).
    #[new]
    #[pyo3(signature = (**options))]
    fn new(py: Python<'_>, options: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        // Taken first: nothing this constructor calls (a clock) may use it.
        let restoring = RESTORING.with_borrow_mut(Option::take);
        let (config, binding) = options::parse(py, options)?;
        Self::build(py, config, binding, restoring)
    }

    /// Calls `func(*args, **kwargs)` if the breaker admits it.
    #[pyo3(signature = (func, /, *args, **kwargs))]
    fn call(
        &self,
        py: Python<'_>,
        func: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<PyObject> {
        self.guarded_call(py, func, args, kwargs)
    }

    /// A permit, or None if the call must not be made.
    fn try_acquire(slf: &Bound<'_, Self>) -> PyResult<Option<PermitHandle>> {
        let py = slf.py();
        Ok(slf
            .get()
            .acquire(py)?
            .ok()
            .map(|admission| PermitHandle::new(slf.clone().unbind(), admission)))
    }

    /// A permit, or `CircuitOpenError`.
    fn _acquire(slf: &Bound<'_, Self>) -> PyResult<PermitHandle> {
        let py = slf.py();
        let admission = slf.get().acquire_or_raise(py)?;
        Ok(PermitHandle::new(slf.clone().unbind(), admission))
    }

    /// Starts a call that Python code reports itself (the async path): the
    /// permit's generation as an int when that is all its report needs (not a
    /// trial, nothing measured, and the machine says its issue time does not
    /// matter), else a `Permit`. End it
    /// exactly once with `_end`.
    fn _begin(slf: &Bound<'_, Self>) -> PyResult<PyObject> {
        let py = slf.py();
        let this = slf.get();
        if let Some(generation) = this.try_acquire_plain() {
            return Ok(generation.into_pyobject(py)?.into_any().unbind());
        }
        let admission = this.acquire_or_raise(py)?;
        let (generation, _, trial) = admission.raw;
        if trial == 0 && admission.started.is_none() && !admission.issue_time_matters {
            return Ok(generation.into_pyobject(py)?.into_any().unbind());
        }
        Ok(Py::new(py, PermitHandle::new(slf.clone().unbind(), admission))?.into_any())
    }

    /// Ends a `_begin` call with what it returned, or with the exception it
    /// raised when `raised`.
    fn _end(
        &self,
        py: Python<'_>,
        token: &Bound<'_, PyAny>,
        outcome: Bound<'_, PyAny>,
        raised: bool,
    ) -> PyResult<()> {
        let Ok(generation) = token.extract::<u64>() else {
            let permit = token.downcast::<PermitHandle>()?.get();
            return if raised {
                permit._settle_exception(py, outcome)
            } else {
                permit._settle_result(py, outcome)
            };
        };
        if !raised && self.is_result_failure.is_none() && self.succeed_plain(generation) {
            return Ok(());
        }
        let admission = Admission::plain(generation);
        if raised {
            let counted = self.classify_error(py, &outcome);
            self.settle(py, &admission, Ending::raised(counted, &outcome));
        } else {
            let counted = self.classify_result(py, &outcome);
            self.settle(py, &admission, Ending::returned(counted, &outcome));
        }
        Ok(())
    }

    /// Whether the machine says nothing but counters would be lost if the
    /// breaker were forgotten now (`Machine::is_idle`): what a
    /// `CircuitBreakerGroup` may evict.
    fn _idle(&self) -> bool {
        self.lock().is_idle()
    }

    /// The fallback, or None (read by the Python layer's async calls).
    #[getter]
    fn _fallback(&self, py: Python<'_>) -> Option<PyObject> {
        self.fallback.as_ref().map(|f| f.clone_ref(py))
    }

    /// Emits the `fallback` event for `error` (the Python layer's async
    /// calls, which call the fallback themselves to await it).
    fn _emit_fallback(&self, py: Python<'_>, error: &Bound<'_, PyAny>) {
        self.emit_fallback(py, error);
    }

    #[getter(state)]
    fn state_name(&self, py: Python<'_>) -> PyResult<&'static str> {
        self.operate(py, true, |m, now| m.state(now).name())
    }

    #[getter]
    fn retry_after(&self, py: Python<'_>) -> PyResult<Option<f64>> {
        Ok(self
            .operate(py, true, |m, now| m.retry_after(now))?
            .map(|d| d.as_secs_f64()))
    }

    #[getter]
    pub(crate) fn name(&self, py: Python<'_>) -> Option<Py<PyString>> {
        self.name.as_ref().map(|n| n.clone_ref(py))
    }

    #[getter]
    fn call_timeout(&self) -> Option<f64> {
        self.call_timeout.map(seconds)
    }

    /// The stats as a dict (the Python layer makes it a `Stats`).
    fn _stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.operate(py, true, |m, now| m.stats(now))?;
        let d = PyDict::new(py);
        // The kit's numbers: times in seconds, absent figures NaN, counters
        // exact (the machine stops them at 2^53 - 1).
        for (field, value) in STATS_FIELDS.iter().zip(s.field_values(1e9)) {
            match *field {
                _ if value.is_nan() => d.set_item(field, py.None())?,
                "state" => d.set_item(field, s.state.name())?,
                "failure_rate" => d.set_item(field, value)?,
                _ if STATS_TIME_FIELDS.contains(field) => d.set_item(field, value)?,
                _ => d.set_item(field, value as u64)?,
            }
        }
        Ok(d)
    }

    fn force_open(&self, py: Python<'_>) -> PyResult<()> {
        self.operate(py, true, |m, now| m.force_open(now))
    }

    fn force_closed(&self, py: Python<'_>) -> PyResult<()> {
        self.operate(py, true, |m, now| m.force_closed(now))
    }

    fn reset(&self, py: Python<'_>) -> PyResult<()> {
        self.operate(py, true, |m, now| m.reset(now))
    }

    /// The effective options as a dict (the Python layer makes the nested
    /// ones `FailureRate` and `Backoff`); times in seconds, `clock` None for
    /// `time.monotonic`.
    fn _options<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = options::machine_options(py, &self.config)?;
        d.set_item("call_timeout", self.call_timeout.map(seconds))?;
        d.set_item("is_failure", &self.is_failure)?;
        d.set_item("is_result_failure", &self.is_result_failure)?;
        d.set_item("retry_after_hint", &self.retry_after_hint)?;
        d.set_item("fallback", &self.fallback)?;
        match &self.exclude {
            Some(types) => d.set_item("exclude", types)?,
            None => d.set_item("exclude", PyTuple::empty(py))?,
        }
        d.set_item(
            "clock",
            match &self.time {
                TimeSource::Custom(clock) => Some(clock),
                TimeSource::Monotonic { .. } => None,
            },
        )?;
        d.set_item("name", &self.name)?;
        Ok(d)
    }

    /// The snapshot as JSON text (the snapshot format of docs/semantics.md).
    fn _snapshot_json(&self, py: Python<'_>) -> PyResult<String> {
        Ok(self.operate(py, true, |m, now| m.snapshot(now))?.to_json())
    }

    /// Calls `callback(event)` on every `event`: "state_change", "success",
    /// "failure", "rejected", "timeout" or "fallback".
    fn add_listener(&self, event: &str, callback: Bound<'_, PyAny>) -> PyResult<()> {
        if !callback.is_callable() {
            return Err(PyTypeError::new_err(format!(
                "callback must be callable, got {}",
                callback.repr()?
            )));
        }
        self.listeners.add(event, callback.unbind())
    }

    fn remove_listener(
        &self,
        py: Python<'_>,
        event: &str,
        callback: Bound<'_, PyAny>,
    ) -> PyResult<()> {
        self.listeners.remove(py, event, &callback)
    }

    /// The Python objects the breaker holds, for the garbage collector: a
    /// listener, predicate or clock that refers back to its breaker forms a
    /// cycle the collector must see to free.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.name)?;
        visit.call(&self.is_failure)?;
        visit.call(&self.is_result_failure)?;
        visit.call(&self.retry_after_hint)?;
        visit.call(&self.fallback)?;
        visit.call(&self.exclude)?;
        // Never blocks (see Listeners::traverse).
        if let Ok(cause) = self.cause.try_lock() {
            visit.call(&*cause)?;
        }
        if let TimeSource::Custom(clock) = &self.time {
            visit.call(clock)?;
        }
        self.listeners.traverse(&visit)
    }

    /// Breaks cycles through the listeners, the breaker's only mutable
    /// references (every cycle has at least one).
    fn __clear__(&self) {
        self.listeners.clear();
        if let Ok(mut cause) = self.cause.try_lock() {
            cause.take();
        }
    }

    fn __reduce__(&self) -> PyResult<()> {
        Err(PyTypeError::new_err(
            "a CircuitBreaker cannot be pickled or copied: it guards live calls; \
             use snapshot() and CircuitBreaker.restore() to persist or move its state",
        ))
    }
}

thread_local! {
    /// The snapshot the next breaker built on this thread starts from
    /// (`CircuitBreaker.restore`), so that a restore builds one machine.
    static RESTORING: std::cell::RefCell<Option<Py<PyAny>>> = const { std::cell::RefCell::new(None) };
}

/// Makes the next breaker built on this thread start from `snapshot` (a
/// dict of the snapshot format), or, with None, forgets it.
#[pyfunction]
pub(crate) fn _restore_next(snapshot: Option<Py<PyAny>>) {
    RESTORING.with_borrow_mut(|pending| *pending = snapshot);
}

impl Breaker {
    /// The machine restored from `snapshot` (a dict) with `config`, at `now`.
    fn restored(
        py: Python<'_>,
        config: &Config,
        snapshot: &Bound<'_, PyAny>,
        now: u64,
    ) -> PyResult<Machine> {
        let text: String = py
            .import("json")?
            .call_method1("dumps", (snapshot,))
            .and_then(|text| text.extract())
            .map_err(|e| {
                let py_errors = (
                    py.get_type::<PyTypeError>(),
                    py.get_type::<pyo3::exceptions::PyValueError>(),
                    py.get_type::<pyo3::exceptions::PyRecursionError>(),
                );
                if e.matches(py, py_errors).unwrap_or(false) {
                    // Values JSON cannot hold, or nesting too deep to write: not of the format.
                    Self::snapshot_error(
                        py,
                        "snapshot",
                        "invalid snapshot: snapshot is not JSON of the snapshot format".to_owned(),
                    )
                } else {
                    e
                }
            })?;
        Snapshot::from_json(&text)
            .and_then(|snapshot| Machine::restore(config.clone(), &snapshot, now))
            .map_err(|e| match e {
                RestoreError::Snapshot { field, .. } => {
                    Self::snapshot_error(py, field.name(), e.to_string())
                }
                RestoreError::Config(c) => PyTypeError::new_err(c.to_string()),
            })
    }

    fn build(
        py: Python<'_>,
        config: Config,
        binding: BindingOptions,
        restoring: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let time = TimeSource::new(py, binding.clock)?;
        let now = time.now(py)?;
        let machine = match restoring {
            Some(snapshot) => Self::restored(py, &config, snapshot.bind(py), now)?,
            None => Machine::new(config.clone(), now)
                .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?,
        };
        Ok(Breaker {
            machine: SharedMachine::new(machine),
            config,
            time,
            name: binding.name.map(|n| PyString::new(py, &n).unbind()),
            call_timeout: binding.call_timeout,
            is_failure: binding.is_failure,
            is_result_failure: binding.is_result_failure,
            retry_after_hint: binding.retry_after_hint,
            fallback: binding.fallback,
            exclude: binding.exclude,
            cause: Mutex::new(None),
            listeners: Listeners::default(),
        })
    }
}
