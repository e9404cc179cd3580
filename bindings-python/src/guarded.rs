//! `Guarded`: the native callable `@breaker` returns for a sync function.

use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use pyo3::PyTraverseError;

use crate::breaker::Breaker;

/// A function guarded by a breaker: what `@breaker` returns for a sync
/// function (through `tripgate._breaker.GuardedFunction`, a Python subclass
/// whose instance dict the collector sees, for `functools.update_wrapper`).
/// Calling it makes the call through the breaker.
#[pyclass(module = "tripgate._native", frozen, subclass)]
pub struct Guarded {
    breaker: Py<Breaker>,
    func: Py<PyAny>,
}

#[pymethods]
impl Guarded {
    #[new]
    fn new(breaker: Py<Breaker>, func: Py<PyAny>) -> Self {
        Guarded { breaker, func }
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.breaker)?;
        visit.call(&self.func)
    }

    #[pyo3(signature = (*args, **kwargs))]
    fn __call__(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<PyObject> {
        self.breaker
            .get()
            .guarded_call(py, self.func.bind(py), args, kwargs)
    }

    /// Binds like a function when used as a method.
    fn __get__(
        slf: Bound<'_, Self>,
        instance: Option<Bound<'_, PyAny>>,
        owner: Option<Bound<'_, PyAny>>,
    ) -> PyResult<PyObject> {
        let _ = owner;
        let py = slf.py();
        match instance.filter(|i| !i.is_none()) {
            None => Ok(slf.into_any().unbind()),
            Some(instance) => Ok(py
                .import("types")?
                .getattr("MethodType")?
                .call1((slf, instance))?
                .unbind()),
        }
    }

    #[getter]
    fn breaker(&self, py: Python<'_>) -> Py<Breaker> {
        self.breaker.clone_ref(py)
    }
}
