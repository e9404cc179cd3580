//! Listeners and the event objects they receive. A listener that raises is
//! reported through the `tripgate` logger and changes nothing else.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use std::cell::RefCell;
use std::collections::VecDeque;

use pyo3::exceptions::PyValueError;
use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::PyTraverseError;
use tripgate_core::Transition;

use crate::clock::seconds;
use crate::errors::log_error;

/// The event names, in the order of `Listeners::by_event`: the kit's, less
/// `error` (Python reports caught errors on the `tripgate` logger).
pub const EVENTS: &[&str] = tripgate_core::binding::EVENTS.split_at(EVENT_COUNT).0;

/// How many events Python has.
const EVENT_COUNT: usize = 6;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Event {
    StateChange = 0,
    Success = 1,
    Failure = 2,
    Rejected = 3,
    Timeout = 4,
    Fallback = 5,
}

/// A state change, as `state_change` listeners receive it.
#[pyclass(module = "tripgate._native", frozen, get_all)]
pub struct StateChange {
    pub from_state: &'static str,
    pub to_state: &'static str,
    pub reason: &'static str,
    /// Seconds, on the breaker's clock.
    pub at: f64,
    pub generation: u64,
}

#[pymethods]
impl StateChange {
    fn __repr__(&self) -> String {
        format!(
            "StateChange(from_state='{}', to_state='{}', reason='{}', at={:?})",
            self.from_state, self.to_state, self.reason, self.at
        )
    }
}

/// A call's outcome, as `success`, `failure`, `rejected`, `timeout` and
/// `fallback` listeners receive it.
#[pyclass(module = "tripgate._native", frozen, get_all)]
pub struct CallEvent {
    /// The event's name.
    pub event: &'static str,
    /// The breaker's name.
    pub name: Option<Py<pyo3::types::PyString>>,
    /// How long the call took, in seconds (None for a rejection).
    pub duration: Option<f64>,
    /// The exception the call raised, if any (for `fallback`: the exception
    /// the fallback answers).
    pub error: Option<Py<PyAny>>,
    /// The call was held longer than slow_call_duration.
    pub slow: bool,
    /// The outcome belonged to an earlier generation and changed no state.
    pub stale: bool,
    /// For a rejection: the state that rejected it.
    pub state: Option<&'static str>,
    /// For a rejection: seconds until a trial is admitted, if open.
    pub retry_after: Option<f64>,
}

/// How Python shows a bool, an optional float and an optional str.
fn py_bool(value: bool) -> &'static str {
    if value {
        "True"
    } else {
        "False"
    }
}

fn py_float(value: Option<f64>) -> String {
    value.map_or_else(|| "None".to_owned(), |v| format!("{v:?}"))
}

fn py_str(value: Option<&str>) -> String {
    value.map_or_else(|| "None".to_owned(), |v| format!("'{v}'"))
}

impl CallEvent {
    /// The event `event` of the breaker named `name`, nothing else known yet.
    pub fn of(event: &'static str, name: Option<Py<pyo3::types::PyString>>) -> Self {
        CallEvent {
            event,
            name,
            duration: None,
            error: None,
            slow: false,
            stale: false,
            state: None,
            retry_after: None,
        }
    }
}

#[pymethods]
impl CallEvent {
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.name)?;
        visit.call(&self.error)
    }

    fn __repr__(&self) -> String {
        format!(
            "CallEvent(event='{}', duration={}, slow={}, stale={}, state={}, retry_after={})",
            self.event,
            py_float(self.duration),
            py_bool(self.slow),
            py_bool(self.stale),
            py_str(self.state),
            py_float(self.retry_after)
        )
    }
}

#[derive(Default)]
pub struct Listeners {
    by_event: Mutex<[Vec<Py<PyAny>>; EVENT_COUNT]>,
    /// Whether any listener is registered for that event: read on the hot
    /// path without taking the lock.
    registered: [AtomicBool; EVENT_COUNT],
}

fn event_index(name: &str) -> PyResult<usize> {
    EVENTS.iter().position(|e| *e == name).ok_or_else(|| {
        PyValueError::new_err(format!(
            "event must be one of {}, got {name:?}",
            EVENTS.join(", ")
        ))
    })
}

/// Events emitted while others were being delivered, to deliver next.
type Pending = VecDeque<(Event, Py<PyAny>)>;

thread_local! {
    /// The breakers (their `Listeners`' addresses) this thread is delivering
    /// events of, each with the events emitted meanwhile.
    static DELIVERING: RefCell<Vec<(usize, Pending)>> = const { RefCell::new(Vec::new()) };
}

fn report_listener_error(py: Python<'_>, event: &str, err: PyErr) {
    log_error(py, &format!("tripgate: a '{event}' listener raised"), err);
}

impl Listeners {
    pub fn add(&self, name: &str, callback: Py<PyAny>) -> PyResult<()> {
        let i = event_index(name)?;
        let mut by_event = self.by_event.lock().unwrap_or_else(|e| e.into_inner());
        by_event[i].push(callback);
        self.registered[i].store(true, Ordering::Release);
        Ok(())
    }

    /// Removes one registration of `callback` (compared with `==`); a
    /// callback that is not registered is a `ValueError`, as `list.remove`.
    /// The comparisons run with no lock held (an `__eq__` may call the
    /// breaker, or let another thread emit).
    pub fn remove(&self, py: Python<'_>, name: &str, callback: &Bound<'_, PyAny>) -> PyResult<()> {
        let i = event_index(name)?;
        let registered = self.snapshot(py, i);
        let mut found = None;
        for candidate in registered {
            if candidate.bind(py).eq(callback)? {
                found = Some(candidate);
                break;
            }
        }
        let removed = found.and_then(|found| {
            let mut by_event = self.lock();
            let position = by_event[i].iter().position(|c| c.is(&found));
            let removed = position.map(|p| by_event[i].remove(p));
            self.registered[i].store(!by_event[i].is_empty(), Ordering::Release);
            removed
        });
        match removed {
            Some(_) => Ok(()),
            None => Err(PyValueError::new_err(format!(
                "that callback is not listening to {name:?}"
            ))),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, [Vec<Py<PyAny>>; EVENT_COUNT]> {
        self.by_event.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The listeners of event `i` now, to call with no lock held.
    fn snapshot(&self, py: Python<'_>, i: usize) -> Vec<Py<PyAny>> {
        self.lock()[i].iter().map(|c| c.clone_ref(py)).collect()
    }

    /// Visits every listener, for the garbage collector. Never blocks: the
    /// collector can run while this thread holds the lock, and a listener
    /// not visited only keeps its cycle alive until the next collection.
    pub fn traverse(&self, visit: &PyVisit<'_>) -> Result<(), PyTraverseError> {
        if let Ok(by_event) = self.by_event.try_lock() {
            for callback in by_event.iter().flatten() {
                visit.call(callback)?;
            }
        }
        Ok(())
    }

    /// Drops every listener (the collector breaking a cycle).
    pub fn clear(&self) {
        let dropped = match self.by_event.try_lock() {
            Ok(mut by_event) => std::mem::take(&mut *by_event),
            Err(_) => return,
        };
        for registered in &self.registered {
            registered.store(false, Ordering::Release);
        }
        drop(dropped);
    }

    pub fn wants(&self, event: Event) -> bool {
        self.registered[event as usize].load(Ordering::Acquire)
    }

    pub fn wants_calls(&self) -> bool {
        self.wants(Event::Success) || self.wants(Event::Failure) || self.wants(Event::Timeout)
    }

    /// Calls every listener of `event` with `payload`, outside any lock.
    /// An event emitted on this thread while another is being delivered (a
    /// listener called the breaker) waits its turn, so every listener sees
    /// every event in the order they happened.
    pub fn emit(
        &self,
        py: Python<'_>,
        event: Event,
        payload: impl FnOnce() -> PyResult<Py<PyAny>>,
    ) {
        if !self.wants(event) {
            return;
        }
        let name = EVENTS[event as usize];
        let payload = match payload() {
            Ok(p) => p,
            Err(e) => return report_listener_error(py, name, e),
        };
        let key = self as *const Listeners as usize;
        let nested = DELIVERING.with_borrow_mut(|delivering| {
            match delivering.iter_mut().find(|(k, _)| *k == key) {
                Some((_, queue)) => {
                    queue.push_back((event, payload.clone_ref(py)));
                    true
                }
                None => {
                    delivering.push((key, VecDeque::new()));
                    false
                }
            }
        });
        if nested {
            return;
        }
        let mut next = Some((event, payload));
        while let Some((event, payload)) = next {
            self.deliver(py, event, payload);
            next = DELIVERING.with_borrow_mut(|delivering| {
                let at = delivering.iter().position(|(k, _)| *k == key)?;
                let queued = delivering[at].1.pop_front();
                if queued.is_none() {
                    delivering.swap_remove(at);
                }
                queued
            });
        }
    }

    fn deliver(&self, py: Python<'_>, event: Event, payload: Py<PyAny>) {
        let name = EVENTS[event as usize];
        for callback in self.snapshot(py, event as usize) {
            if let Err(e) = callback.call1(py, (payload.clone_ref(py),)) {
                report_listener_error(py, name, e);
            }
        }
    }

    pub fn state_changes(&self, py: Python<'_>, transitions: Vec<Transition>) {
        for t in transitions {
            self.emit(py, Event::StateChange, || {
                Ok(Py::new(
                    py,
                    StateChange {
                        from_state: t.from.name(),
                        to_state: t.to.name(),
                        reason: t.reason.name(),
                        at: seconds(t.at),
                        generation: t.generation,
                    },
                )?
                .into_any())
            });
        }
    }
}
