//! Where the binding's time comes from: `time.monotonic` (read in Rust,
//! without calling Python) or a clock the caller injected.

use std::time::Instant;

use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBool;
use tripgate_core::config::convert;

pub enum TimeSource {
    /// `time.monotonic()`: `base` is `time.monotonic_ns()` when `origin` was
    /// taken, so the times the binding reports agree with `time.monotonic()`.
    Monotonic { origin: Instant, base: u64 },
    /// A callable returning seconds.
    Custom(Py<PyAny>),
}

impl TimeSource {
    pub fn new(py: Python<'_>, clock: Option<Py<PyAny>>) -> PyResult<Self> {
        Ok(match clock {
            Some(c) => TimeSource::Custom(c),
            None => TimeSource::Monotonic {
                base: py.import("time")?.call_method0("monotonic_ns")?.extract()?,
                origin: Instant::now(),
            },
        })
    }

    /// The monotonic time, if that is the source.
    pub fn monotonic(&self) -> Option<u64> {
        match self {
            TimeSource::Monotonic { origin, base } => {
                Some(base.saturating_add(origin.elapsed().as_nanos() as u64))
            }
            TimeSource::Custom(_) => None,
        }
    }

    /// Calls the injected clock, if that is the source. A reading that is
    /// not a number is a `TypeError`; one that is not finite, is negative,
    /// or is at or beyond 2^64 nanoseconds a `ValueError`: the clock's error,
    /// never the machine's time (docs/semantics.md, "What the bindings promise").
    pub fn custom(&self, py: Python<'_>) -> PyResult<Option<u64>> {
        let TimeSource::Custom(clock) = self else {
            return Ok(None);
        };
        let value = clock.bind(py).call0()?;
        let shown = || value.repr().map(|r| r.to_string()).unwrap_or_default();
        let out_of_range = || {
            PyValueError::new_err(format!(
                "clock must return a finite number of seconds from 0 to 2**64 nanoseconds, got {}",
                shown()
            ))
        };
        let not_a_number = || {
            PyTypeError::new_err(format!(
                "clock must return a number of seconds, got {}",
                shown()
            ))
        };
        if value.is_instance_of::<PyBool>() {
            return Err(not_a_number());
        }
        let seconds: f64 = value.extract().map_err(|e| {
            if e.is_instance_of::<PyOverflowError>(py) {
                out_of_range()
            } else {
                not_a_number()
            }
        })?;
        convert::reading(seconds, convert::NANOS_PER_SECOND)
            .map(Some)
            .ok_or_else(out_of_range)
    }

    /// The current time from whichever source.
    pub fn now(&self, py: Python<'_>) -> PyResult<u64> {
        match self.monotonic() {
            Some(now) => Ok(now),
            None => Ok(self.custom(py)?.unwrap_or(0)),
        }
    }
}

pub fn seconds(nanos: u64) -> f64 {
    nanos as f64 / 1e9
}
