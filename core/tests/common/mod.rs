//! What the Rust test runners share: the scenario config format (snake_case
//! keys, milliseconds) into a core `Config`, the way a binding converts its
//! options; and the check of a file generated from the core.

// Each test binary uses part of this module.
#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use serde_json::{Map, Value};
use tripgate_core::config::{convert, slot_of};
use tripgate_core::{Backoff, Config, ConfigError, FailureRate, OptionValue, Window};

/// A config error as the runner sees it: which option, and whether the
/// value had the wrong type or was out of range.
#[derive(Debug)]
pub struct OptionError {
    pub option: String,
    pub kind: &'static str,
    pub value: Option<OptionValue>,
}

impl From<ConfigError> for OptionError {
    fn from(e: ConfigError) -> Self {
        OptionError {
            option: e.option().to_string(),
            kind: "range",
            value: Some(e.value),
        }
    }
}

fn type_error(option: &str) -> OptionError {
    OptionError {
        option: option.to_string(),
        kind: "type",
        value: None,
    }
}

fn number(
    obj: &Map<String, Value>,
    key: &str,
    option: &'static str,
) -> Result<Option<f64>, OptionError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(_) => Err(type_error(option)),
    }
}

fn duration(
    obj: &Map<String, Value>,
    key: &str,
    option: &'static str,
) -> Result<Option<Duration>, OptionError> {
    match number(obj, key, option)? {
        None => Ok(None),
        Some(ms) => Ok(Some(convert::duration(
            slot_of(option),
            ms,
            convert::NANOS_PER_MILLI,
        )?)),
    }
}

fn count(
    obj: &Map<String, Value>,
    key: &str,
    option: &'static str,
) -> Result<Option<u32>, OptionError> {
    match number(obj, key, option)? {
        None => Ok(None),
        Some(v) => Ok(Some(convert::count(slot_of(option), v)?)),
    }
}

fn object<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<&'a Map<String, Value>>, OptionError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(type_error(key)),
    }
}

/// The scenario config (snake_case keys, milliseconds) as a core [`Config`],
/// the way a binding converts its options.
pub fn parse_config(value: &Value) -> Result<Config, OptionError> {
    let empty = Map::new();
    let obj = value.as_object().unwrap_or(&empty);
    let mut config = Config::default();
    if let Some(v) = count(obj, "failure_tolerance", "failure_tolerance")? {
        config.failure_tolerance = v;
    }
    if let Some(rate) = object(obj, "failure_rate")? {
        let threshold = number(rate, "threshold", "failure_rate.threshold")?
            .ok_or_else(|| type_error("failure_rate.threshold"))?;
        let minimum_calls = count(rate, "minimum_calls", "failure_rate.minimum_calls")?
            .ok_or_else(|| type_error("failure_rate.minimum_calls"))?;
        let calls = count(rate, "window_calls", "failure_rate.window_calls")?;
        let span = duration(rate, "window_duration", "failure_rate.window_duration")?;
        let window = match (calls, span) {
            (Some(n), None) => Window::Calls(n),
            (None, Some(d)) => Window::Duration(d),
            // Exactly one window is required: both or neither is a shape
            // error of the failure_rate option itself.
            _ => return Err(type_error("failure_rate")),
        };
        config.failure_rate = Some(FailureRate {
            threshold,
            minimum_calls,
            window,
        });
    }
    config.slow_call_duration = duration(obj, "slow_call_duration", "slow_call_duration")?;
    if let Some(d) = duration(obj, "reset_timeout", "reset_timeout")? {
        config.reset_timeout = d;
    }
    if let Some(b) = object(obj, "backoff")? {
        config.backoff = Some(Backoff {
            multiplier: number(b, "multiplier", "backoff.multiplier")?
                .ok_or_else(|| type_error("backoff.multiplier"))?,
            max_reset_timeout: duration(b, "max_reset_timeout", "backoff.max_reset_timeout")?
                .ok_or_else(|| type_error("backoff.max_reset_timeout"))?,
            jitter: number(b, "jitter", "backoff.jitter")?.unwrap_or(0.0),
        });
    }
    if let Some(v) = count(obj, "half_open_max_calls", "half_open_max_calls")? {
        config.half_open_max_calls = v;
    }
    if let Some(v) = count(obj, "success_threshold", "success_threshold")? {
        config.success_threshold = v;
    }
    if let Some(d) = duration(obj, "trial_timeout", "trial_timeout")? {
        config.trial_timeout = d;
    }
    if let Some(d) = duration(obj, "max_retry_after", "max_retry_after")? {
        config.max_retry_after = d;
    }
    if let Some(v) = number(obj, "seed", "seed")? {
        config.seed = Some(convert::seed(v)?);
    }
    config.validate()?;
    Ok(config)
}

/// Fails unless the file at `relative` (to the core crate) holds `expected`;
/// with `TRIPGATE_BLESS` set, writes it first.
pub fn check_generated(relative: &str, expected: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    if std::env::var_os("TRIPGATE_BLESS").is_some() {
        std::fs::write(&path, expected).unwrap();
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == expected,
        "{} is stale; rerun with TRIPGATE_BLESS=1 to rewrite it",
        path.display()
    );
}
