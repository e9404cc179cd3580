//! `Permit`: the right to make one call, reported once (the two-step API,
//! `with` blocks, and the async path's reports).

use std::sync::atomic::{AtomicBool, Ordering};

use pyo3::exceptions::PyRuntimeError;
use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::PyTraverseError;
use tripgate_core::Permit;

use crate::breaker::{Admission, Breaker, Ending, Outcome};
use crate::clock::seconds;
use crate::errors::error_types;

/// The right to make one call: report it once with `success()`,
/// `failure()` or `release()`, or use it as a context manager. A permit
/// dropped unreported is released.
#[pyclass(module = "tripgate._native", name = "Permit", frozen)]
pub struct PermitHandle {
    breaker: Py<Breaker>,
    admission: Admission,
    settled: AtomicBool,
}

impl PermitHandle {
    pub(crate) fn new(breaker: Py<Breaker>, admission: Admission) -> Self {
        PermitHandle {
            breaker,
            admission,
            settled: AtomicBool::new(false),
        }
    }

    /// Marks the permit reported; false if it already was.
    fn take(&self) -> bool {
        !self.settled.swap(true, Ordering::AcqRel)
    }

    fn report(&self, py: Python<'_>, ending: Ending<'_, '_>) -> PyResult<()> {
        if !self.take() {
            return Err(PyRuntimeError::new_err("this permit was already reported"));
        }
        self.breaker.get().settle(py, &self.admission, ending);
        Ok(())
    }
}

#[pymethods]
impl PermitHandle {
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.breaker)
    }

    /// Whether this is a half-open trial.
    #[getter]
    fn is_trial(&self) -> bool {
        self.admission.raw.2 != 0
    }

    /// The call succeeded.
    fn success(&self, py: Python<'_>) -> PyResult<()> {
        self.report(py, Ending::of(Outcome::Success))
    }

    /// The call failed. `retry_after`: the server's Retry-After hint in
    /// seconds, which opens the breaker at once (docs/semantics.md,
    /// "Retry-After"). A bad hint is an error and leaves the permit unreported.
    #[pyo3(signature = (*, retry_after=None))]
    fn failure(&self, py: Python<'_>, retry_after: Option<Bound<'_, PyAny>>) -> PyResult<()> {
        let hint = match retry_after.filter(|r| !r.is_none()) {
            None => None,
            Some(r) => Some(crate::options::hint("retry_after", "be", &r)?),
        };
        self.report(
            py,
            Ending {
                hint,
                ..Ending::of(Outcome::Failure)
            },
        )
    }

    /// The call is not counted.
    fn release(&self, py: Python<'_>) -> PyResult<()> {
        self.report(py, Ending::of(Outcome::Released))
    }

    /// Reports a returned value, classified by `is_result_failure`.
    pub(crate) fn _settle_result(&self, py: Python<'_>, value: Bound<'_, PyAny>) -> PyResult<()> {
        let outcome = self.breaker.get().classify_result(py, &value);
        self.report(py, Ending::returned(outcome, &value))
    }

    /// Reports a raised exception, classified by `exclude` and `is_failure`.
    pub(crate) fn _settle_exception(
        &self,
        py: Python<'_>,
        error: Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let outcome = self.breaker.get().classify_error(py, &error);
        self.report(py, Ending::raised(outcome, &error))
    }

    /// Reports a call that the caller abandoned after `call_timeout`.
    fn _settle_timeout(&self, py: Python<'_>, error: Bound<'_, PyAny>) -> PyResult<()> {
        self.report(
            py,
            Ending {
                timed_out: true,
                ..Ending::raised(Outcome::Failure, &error)
            },
        )
    }

    /// A `CallTimeoutError` for this breaker.
    fn _timeout_error(&self, py: Python<'_>) -> PyResult<PyObject> {
        let breaker = self.breaker.get();
        let timeout = breaker.call_timeout.map(seconds);
        Ok(error_types(py)?
            .call_timeout
            .bind(py)
            .call1((timeout, breaker.name(py)))?
            .unbind())
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Success without an exception; with one, it is classified. Does not
    /// suppress the exception. A permit already reported is left as it is.
    #[pyo3(signature = (_exc_type=None, exc=None, _traceback=None))]
    fn __exit__(
        &self,
        py: Python<'_>,
        _exc_type: Option<Bound<'_, PyAny>>,
        exc: Option<Bound<'_, PyAny>>,
        _traceback: Option<Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        if self.settled.load(Ordering::Acquire) {
            return Ok(false);
        }
        match exc.filter(|e| !e.is_none()) {
            None => self.report(py, Ending::of(Outcome::Success))?,
            Some(error) => {
                let outcome = self.breaker.get().classify_error(py, &error);
                self.report(py, Ending::raised(outcome, &error))?
            }
        }
        Ok(false)
    }

    fn __repr__(&self) -> String {
        format!(
            "<Permit generation={} trial={} reported={}>",
            self.admission.raw.0,
            self.admission.raw.2 != 0,
            self.settled.load(Ordering::Acquire)
        )
    }
}

impl Drop for PermitHandle {
    fn drop(&mut self) {
        if self.take() {
            // Dropped unreported: release it, at the latest time the machine
            // has seen (no clock may be called from a destructor).
            let (generation, acquired_at, trial) = self.admission.raw;
            let mut machine = self.breaker.get().lock();
            let now = machine.latest_time();
            machine.release(Permit::from_raw(generation, acquired_at, trial), now);
        }
    }
}
