//! Where the binding's time comes from: `time.monotonic` (read in Rust,
//! without calling Python) or a clock the caller injected.

use std::time::Instant;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
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

    /// Calls the injected clock, if that is the source.
    pub fn custom(&self, py: Python<'_>) -> PyResult<Option<u64>> {
        let TimeSource::Custom(clock) = self else {
            return Ok(None);
        };
        let value = clock.call0(py)?;
        let seconds: f64 = value.extract(py).map_err(|_| {
            PyTypeError::new_err(format!(
                "clock must return a number of seconds, got {}",
                value
                    .bind(py)
                    .repr()
                    .map(|r| r.to_string())
                    .unwrap_or_default()
            ))
        })?;
        if !(seconds.is_finite() && seconds >= 0.0) {
            return Err(PyValueError::new_err(format!(
                "clock must return a finite number of seconds >= 0, got {seconds}"
            )));
        }
        Ok(Some(convert::instant(seconds, convert::NANOS_PER_SECOND)))
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
