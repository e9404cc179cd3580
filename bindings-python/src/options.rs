//! Python keyword options into a core `Config` (and the binding's own
//! options). A value of the wrong type is a `TypeError`, a value out of range
//! a `ValueError`; both name the option and show the value as Python prints it.

use std::time::Duration;

use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyMapping, PyString, PyTuple, PyType};
use tripgate_core::binding::{
    self, option_slots, OptionKind, OptionSlots, ShapeError, OPTION_GROUPS, OPTION_KINDS,
};
use tripgate_core::config::{closest_name, convert, OPTION_NAMES};
use tripgate_core::{Config, ConfigError};

/// The options the Python binding acts on itself, beside the machine's.
pub const BINDING_OPTION_NAMES: [&str; 8] = [
    "call_timeout",
    "is_failure",
    "is_result_failure",
    "retry_after_hint",
    "fallback",
    "exclude",
    "clock",
    "name",
];

/// A `TypeError` for an option name `CircuitBreaker` does not have (`name`
/// spelled with its group, `failure_rate.treshold`), suggesting the closest
/// of `candidates` as the core's [`closest_name`] finds it.
pub fn unknown_option(name: &str, candidates: &[&str]) -> PyErr {
    let hint = match closest_name(name, candidates) {
        Some(closest) => format!("; did you mean {closest}?"),
        None => format!("; the options are {}", candidates.join(", ")),
    };
    PyTypeError::new_err(format!("{name} is not an option of CircuitBreaker{hint}"))
}

/// Refuses the first of `options` that is not an option of `CircuitBreaker`.
fn refuse_unknown(options: &Bound<'_, PyDict>) -> PyResult<()> {
    let candidates: Vec<&str> = OPTION_NAMES
        .iter()
        .copied()
        .filter(|name| !name.contains('.'))
        .chain(BINDING_OPTION_NAMES)
        .collect();
    for key in options.keys() {
        let key = key.to_string();
        if !candidates.contains(&key.as_str()) {
            return Err(unknown_option(&key, &candidates));
        }
    }
    Ok(())
}

/// The options the binding itself acts on, beside the machine's config.
pub struct BindingOptions {
    pub call_timeout: Option<u64>,
    pub is_failure: Option<Py<PyAny>>,
    pub is_result_failure: Option<Py<PyAny>>,
    /// Finds a failed call's Retry-After hint (seconds) in its error or result.
    pub retry_after_hint: Option<Py<PyAny>>,
    /// Answers a whole call that would end in an exception.
    pub fallback: Option<Py<PyAny>>,
    /// Exception types that are not counted.
    pub exclude: Option<Py<PyTuple>>,
    /// `None` for `time.monotonic`, which the binding reads without calling Python.
    pub clock: Option<Py<PyAny>>,
    pub name: Option<String>,
}

/// Every option as given, so that an error from the core's validation can
/// show the value in the caller's own terms.
struct Given<'py> {
    values: Vec<(&'static str, Bound<'py, PyAny>)>,
    /// The numbers, in the slots of `OPTION_NAMES`, for the kit's builder.
    slots: [f64; OPTION_NAMES.len()],
    mask: u32,
}

impl Default for Given<'_> {
    fn default() -> Self {
        Given {
            values: Vec::new(),
            slots: [f64::NAN; OPTION_NAMES.len()],
            mask: 0,
        }
    }
}

impl<'py> Given<'py> {
    fn keep(&mut self, option: &'static str, value: &Bound<'py, PyAny>) {
        self.values.push((option, value.clone()));
    }

    /// Puts `number` in `option`'s slot, for the kit's builder to judge.
    fn put(&mut self, option: &'static str, number: f64) {
        if let Some(slot) = OPTION_NAMES.iter().position(|name| *name == option) {
            self.slots[slot] = number;
            self.mask |= 1 << slot;
        }
    }

    /// The config the kit builds from the numbers put, or the first
    /// option it finds invalid, as a `ValueError` showing the caller's value.
    fn config(&self) -> PyResult<Config> {
        OptionSlots::<1_000_000_000> {
            values: &self.slots,
            mask: self.mask,
        }
        .config()
        .map_err(|e| self.range_error(e))
    }

    fn range_error(&self, e: ConfigError) -> PyErr {
        let shown = self
            .values
            .iter()
            .find(|(option, _)| *option == e.option())
            .and_then(|(_, v)| v.repr().ok())
            .map(|r| r.to_string())
            .unwrap_or_else(|| e.value.to_string());
        PyValueError::new_err(format!(
            "{} {}, got {shown}",
            e.option(),
            e.requirement.text()
        ))
    }
}

fn repr(value: &Bound<'_, PyAny>) -> String {
    value
        .repr()
        .map(|r| r.to_string())
        .unwrap_or_else(|_| "<unprintable>".into())
}

fn type_error(option: &str, expected: &str, value: &Bound<'_, PyAny>) -> PyErr {
    PyTypeError::new_err(format!("{option} must be {expected}, got {}", repr(value)))
}

fn is_number(value: &Bound<'_, PyAny>) -> bool {
    !value.is_instance_of::<PyBool>()
        && (value.is_instance_of::<PyInt>() || value.is_instance_of::<PyFloat>())
}

/// A number option's value as a float: an int too large for one is out of
/// range (`ValueError`), an int subclass whose `__float__` raises is of the
/// wrong type (`TypeError`); both name the option.
fn float_of(option: &str, expected: &str, value: &Bound<'_, PyAny>) -> PyResult<f64> {
    value.extract::<f64>().map_err(|e| {
        if e.is_instance_of::<PyOverflowError>(value.py()) {
            PyValueError::new_err(format!(
                "{option} must be a finite number, got {}",
                repr(value)
            ))
        } else {
            type_error(option, expected, value)
        }
    })
}

/// A Retry-After hint in seconds (`what` names who gave it; `verb` is "be"
/// or "return"): a number from 0 up, infinity included (the machine caps
/// every hint at `max_retry_after`).
pub fn hint(what: &str, verb: &str, value: &Bound<'_, PyAny>) -> PyResult<Duration> {
    let expected = format!("{verb} a number of seconds");
    if !is_number(value) {
        return Err(PyTypeError::new_err(format!(
            "{what} must {expected}, got {}",
            repr(value)
        )));
    }
    let value_seconds = float_of(what, &expected, value)?;
    if value_seconds.is_nan() || value_seconds < 0.0 {
        return Err(PyValueError::new_err(format!(
            "{what} must {expected} >= 0, got {}",
            repr(value)
        )));
    }
    Ok(Duration::try_from_secs_f64(value_seconds).unwrap_or(Duration::MAX))
}

/// The binding option `call_timeout` in seconds: a `TypeError` for what is
/// not a number; its value is the kit's to judge (`binding::call_timeout`).
fn call_timeout(value: &Bound<'_, PyAny>) -> PyResult<u64> {
    let expected = "a number of seconds";
    if !is_number(value) {
        return Err(type_error("call_timeout", expected, value));
    }
    let value_seconds = float_of("call_timeout", expected, value)?;
    match binding::call_timeout(value_seconds, convert::NANOS_PER_SECOND) {
        Ok(timeout) => Ok(timeout.as_nanos() as u64),
        Err(requirement) => Err(PyValueError::new_err(format!(
            "call_timeout {}, got {}",
            requirement.text(),
            repr(value)
        ))),
    }
}

fn optional<'py>(value: Option<Bound<'py, PyAny>>) -> Option<Bound<'py, PyAny>> {
    value.filter(|v| !v.is_none())
}

/// Reads the fields of a `FailureRate`/`Backoff` dataclass or of a mapping,
/// rejecting unknown keys.
struct Fields<'py> {
    source: Bound<'py, PyAny>,
}

impl<'py> Fields<'py> {
    fn new(
        option: &'static str,
        source: Bound<'py, PyAny>,
        known: &[&str],
        kind: &str,
    ) -> PyResult<Self> {
        // Any Mapping is read as a dict (a copy, so it is read once).
        let source = match source.downcast::<PyMapping>() {
            Ok(mapping) if !source.is_instance_of::<PyDict>() => {
                let dict = PyDict::new(source.py());
                dict.update(mapping)?;
                dict.into_any()
            }
            _ => source,
        };
        if let Ok(dict) = source.downcast::<PyDict>() {
            for key in dict.keys() {
                let name = key.extract::<String>().unwrap_or_else(|_| repr(&key));
                if !known.contains(&name.as_str()) {
                    let spelled: Vec<String> =
                        known.iter().map(|k| format!("{option}.{k}")).collect();
                    let spelled: Vec<&str> = spelled.iter().map(String::as_str).collect();
                    return Err(unknown_option(&format!("{option}.{name}"), &spelled));
                }
            }
        } else if !source.hasattr(known[0])? {
            return Err(type_error(option, &format!("a {kind} or a dict"), &source));
        }
        Ok(Fields { source })
    }

    fn get(&self, key: &str) -> PyResult<Option<Bound<'py, PyAny>>> {
        let value = match self.source.downcast::<PyDict>() {
            Ok(dict) => dict.get_item(key)?,
            Err(_) => self.source.getattr(key).ok(),
        };
        Ok(optional(value))
    }
}

/// Reads `value` as the option `option` (one of `OPTION_NAMES`) by the kind
/// the kit gives it: a value of the wrong type is a `TypeError` here, a
/// number is the kit's to judge. The seed is read apart (an int, kept exact).
fn put<'py>(
    given: &mut Given<'py>,
    option: &'static str,
    value: &Bound<'py, PyAny>,
) -> PyResult<()> {
    let slot = OPTION_NAMES.iter().position(|name| *name == option);
    let (expected, ints_only) = match slot.and_then(|slot| OPTION_KINDS.get(slot)) {
        Some(OptionKind::Group) => return group(given, option, value),
        Some(OptionKind::Seed) | None => return Ok(()),
        Some(OptionKind::Count) => ("an int", true),
        Some(OptionKind::Number) => ("a number", false),
        Some(OptionKind::Duration) => ("a number of seconds", false),
    };
    given.keep(option, value);
    if !is_number(value) || (ints_only && !value.is_instance_of::<PyInt>()) {
        return Err(type_error(option, expected, value));
    }
    let number = float_of(option, expected, value)?;
    given.put(option, number);
    Ok(())
}

/// A group of options (its dataclass, `FailureRate` say, or a mapping),
/// checked against its shape in the kit's `OPTION_GROUPS`, then each member
/// read by its kind.
fn group<'py>(
    given: &mut Given<'py>,
    option: &'static str,
    value: &Bound<'py, PyAny>,
) -> PyResult<()> {
    let prefix = format!("{option}.");
    let members: Vec<&'static str> = OPTION_NAMES
        .iter()
        .copied()
        .filter(|name| name.starts_with(&prefix))
        .collect();
    let keys: Vec<&str> = members.iter().map(|m| &m[prefix.len()..]).collect();
    // `failure_rate` is given as a `FailureRate`.
    let class: String = option
        .split('_')
        .map(|word| word[..1].to_uppercase() + &word[1..])
        .collect();
    let fields = Fields::new(option, value.clone(), &keys, &class)?;
    let mut present = Vec::new();
    for key in &keys {
        if fields.get(key)?.is_some() {
            present.push(*key);
        }
    }
    if let Some(shape) = OPTION_GROUPS.iter().find(|g| g.name == option) {
        match shape.check(|key| present.contains(&key)) {
            Ok(()) => {}
            Err(ShapeError::Missing(key)) => {
                return Err(PyTypeError::new_err(format!("{option} needs {key}")));
            }
            Err(ShapeError::NotExactlyOne) => {
                let one_of = shape.exactly_one_of.join(" and ");
                return Err(type_error(
                    option,
                    &format!("given exactly one of {one_of}"),
                    value,
                ));
            }
        }
    }
    for (member, key) in members.iter().zip(&keys) {
        if let Some(member_value) = fields.get(key)? {
            put(given, member, &member_value)?;
        }
    }
    Ok(())
}

fn callable(option: &str, value: Option<Bound<'_, PyAny>>) -> PyResult<Option<Py<PyAny>>> {
    match optional(value) {
        None => Ok(None),
        Some(f) if f.is_callable() => Ok(Some(f.unbind())),
        Some(other) => Err(type_error(option, "callable or None", &other)),
    }
}

fn exclude(value: Bound<'_, PyAny>) -> PyResult<Option<Py<PyTuple>>> {
    let py = value.py();
    let items: Vec<Bound<'_, PyAny>> = if let Ok(t) = value.downcast::<PyType>() {
        vec![t.clone().into_any()]
    } else {
        value
            .try_iter()
            .map_err(|_| type_error("exclude", "a tuple of exception types", &value))?
            .collect::<PyResult<_>>()?
    };
    let base = py.get_type::<pyo3::exceptions::PyBaseException>();
    for item in &items {
        let is_exception_type = item
            .downcast::<PyType>()
            .map(|t| t.is_subclass(&base).unwrap_or(false))
            .unwrap_or(false);
        if !is_exception_type {
            return Err(type_error("exclude", "a tuple of exception types", &value));
        }
    }
    (!items.is_empty())
        .then(|| PyTuple::new(py, items).map(Bound::unbind))
        .transpose()
}

/// The constructor's keyword options, each read by its name: the machine's
/// in the kit's order, then the binding's own.
pub fn parse<'py>(
    py: Python<'py>,
    options: Option<&Bound<'py, PyDict>>,
) -> PyResult<(Config, BindingOptions)> {
    let options = options.cloned().unwrap_or_else(|| PyDict::new(py));
    refuse_unknown(&options)?;
    let get = |name: &str| options.get_item(name).map(optional);
    let mut given = Given::default();
    for option in OPTION_NAMES.iter().filter(|name| !name.contains('.')) {
        if let Some(value) = get(option)? {
            put(&mut given, option, &value)?;
        }
    }
    let seed = match get("seed")? {
        Some(s) => {
            if s.is_instance_of::<PyBool>() || !s.is_instance_of::<PyInt>() {
                return Err(type_error("seed", "an int", &s));
            }
            // Python ints are exact where floats are not: 2**53 + 1 must be
            // refused, not rounded into the range.
            let out_of_range = |e: ConfigError| {
                PyValueError::new_err(format!("seed {}, got {}", e.requirement.text(), repr(&s)))
            };
            // An int too large for i128 is out of range as -1 is.
            convert::seed_integer(s.extract::<i128>().unwrap_or(-1)).map_err(out_of_range)?
        }
        // A random seed within the range every language accepts.
        None => tripgate_core::random_seed() >> 11,
    };
    given.put("seed", seed as f64);
    let config = given.config()?;

    let call_timeout = match get("call_timeout")? {
        None => None,
        Some(t) => Some(call_timeout(&t)?),
    };
    let clock = match get("clock")? {
        None => None,
        Some(c) if c.is(&py.import("time")?.getattr("monotonic")?) => None,
        Some(c) if c.is_callable() => Some(c.unbind()),
        Some(other) => return Err(type_error("clock", "a callable returning seconds", &other)),
    };
    let name = match get("name")? {
        None => None,
        Some(n) if n.is_instance_of::<PyString>() => Some(n.extract::<String>()?),
        Some(other) => return Err(type_error("name", "a str or None", &other)),
    };
    Ok((
        config,
        BindingOptions {
            call_timeout,
            is_failure: callable("is_failure", get("is_failure")?)?,
            is_result_failure: callable("is_result_failure", get("is_result_failure")?)?,
            retry_after_hint: callable("retry_after_hint", get("retry_after_hint")?)?,
            fallback: callable("fallback", get("fallback")?)?,
            exclude: match get("exclude")? {
                Some(v) => exclude(v)?,
                None => None,
            },
            clock,
            name,
        },
    ))
}

/// The machine's effective options as Python shows them, from the kit's
/// slots and kinds: counts and the seed as ints, numbers and durations
/// (seconds) as floats, a group as a dict of its members or None.
pub fn machine_options<'py>(py: Python<'py>, config: &Config) -> PyResult<Bound<'py, PyDict>> {
    let values = option_slots::<1_000_000_000>(config);
    let options = PyDict::new(py);
    for ((name, kind), value) in OPTION_NAMES.iter().zip(OPTION_KINDS).zip(values) {
        let (dict, key) = match name.split_once('.') {
            None if kind == OptionKind::Group => {
                options.set_item(name, py.None())?;
                continue;
            }
            None => (options.clone(), *name),
            Some(_) if value.is_nan() => continue,
            Some((group, member)) => match options.get_item(group)?.filter(|g| !g.is_none()) {
                Some(members) => (members.downcast_into::<PyDict>()?, member),
                None => {
                    let members = PyDict::new(py);
                    options.set_item(group, &members)?;
                    (members, member)
                }
            },
        };
        match kind {
            _ if value.is_nan() => dict.set_item(key, py.None())?,
            OptionKind::Count | OptionKind::Seed => dict.set_item(key, value as u64)?,
            OptionKind::Number | OptionKind::Duration | OptionKind::Group => {
                dict.set_item(key, value)?
            }
        }
    }
    Ok(options)
}
