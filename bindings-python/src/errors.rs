//! The Python types of tripgate's errors (defined in `tripgate._errors`, which
//! hands them to this module when the package is imported, so that the
//! native module imports nothing of the package), and the `tripgate` logger,
//! where errors the breaker catches instead of handing them to a caller are
//! reported.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use pyo3::types::{PyDict, PyType};

pub(crate) struct ErrorTypes {
    pub(crate) circuit_open: Py<PyType>,
    pub(crate) call_timeout: Py<PyType>,
    pub(crate) invalid_snapshot: Py<PyType>,
}

static ERROR_TYPES: GILOnceCell<ErrorTypes> = GILOnceCell::new();

pub(crate) fn error_types(py: Python<'_>) -> PyResult<&ErrorTypes> {
    ERROR_TYPES.get(py).ok_or_else(|| {
        PyRuntimeError::new_err(
            "tripgate._native is used without the tripgate package: import tripgate first",
        )
    })
}

/// Called once by `tripgate._errors` with its error types.
#[pyfunction]
pub(crate) fn _register_error_types(
    py: Python<'_>,
    circuit_open: Bound<'_, PyType>,
    call_timeout: Bound<'_, PyType>,
    invalid_snapshot: Bound<'_, PyType>,
) {
    let _ = ERROR_TYPES.set(
        py,
        ErrorTypes {
            circuit_open: circuit_open.unbind(),
            call_timeout: call_timeout.unbind(),
            invalid_snapshot: invalid_snapshot.unbind(),
        },
    );
}

static LOGGER: GILOnceCell<Py<PyAny>> = GILOnceCell::new();

/// Logs `err`, with its traceback, on the `tripgate` logger under
/// `message`; where logging itself fails, prints it rather than lose it.
pub(crate) fn log_error(py: Python<'_>, message: &str, err: PyErr) {
    let logged = LOGGER
        .get_or_try_init(py, || {
            py.import("logging")?
                .call_method1("getLogger", ("tripgate",))
                .map(Bound::unbind)
        })
        .and_then(|logger| {
            let kwargs = PyDict::new(py);
            kwargs.set_item("exc_info", err.value(py))?;
            logger
                .bind(py)
                .call_method("error", (message,), Some(&kwargs))
                .map(|_| ())
        });
    if logged.is_err() {
        err.print(py);
    }
}

/// Logs an error the breaker caught rather than hand to a caller (a
/// predicate's, a clock's while an outcome was reported):
/// "tripgate: {what} raised; {consequence}".
pub(crate) fn log_caught(py: Python<'_>, what: &str, consequence: &str, err: PyErr) {
    log_error(py, &format!("tripgate: {what} raised; {consequence}"), err);
}

pub(crate) fn log_predicate_error(py: Python<'_>, option: &str, err: PyErr) {
    log_caught(py, option, "the call counts as a failure", err);
}
