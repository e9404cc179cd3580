//! The Python types of tripgate's errors (defined in `tripgate._errors`,
//! looked up once), and the `tripgate` logger, where errors the breaker
//! catches instead of handing them to a caller are reported.

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
    ERROR_TYPES.get_or_try_init(py, || {
        let module = py.import("tripgate._errors")?;
        let get = |name: &str| -> PyResult<Py<PyType>> {
            Ok(module.getattr(name)?.downcast_into::<PyType>()?.unbind())
        };
        Ok(ErrorTypes {
            circuit_open: get("CircuitOpenError")?,
            call_timeout: get("CallTimeoutError")?,
            invalid_snapshot: get("InvalidSnapshotError")?,
        })
    })
}

/// Logs an error the breaker caught rather than hand to a caller (a
/// predicate's, a clock's while an outcome was reported) on the `tripgate`
/// logger: "tripgate: {what} raised; {consequence}".
pub(crate) fn log_caught(py: Python<'_>, what: &str, consequence: &str, err: PyErr) {
    let logged = py.import("logging").and_then(|logging| {
        let kwargs = PyDict::new(py);
        kwargs.set_item("exc_info", err.value(py))?;
        logging
            .call_method1("getLogger", ("tripgate",))?
            .call_method(
                "error",
                ("tripgate: %s raised; %s", what, consequence),
                Some(&kwargs),
            )?;
        Ok(())
    });
    if logged.is_err() {
        err.print(py);
    }
}

pub(crate) fn log_predicate_error(py: Python<'_>, option: &str, err: PyErr) {
    log_caught(py, option, "the call counts as a failure", err);
}
