//! A JS options object (camelCase keys, milliseconds) into a core `Config`.
//! A value of the wrong type is a `TypeError`, one out of range a
//! `RangeError`; both name the option (in camelCase) and show the value.

use js_sys::{RangeError, Reflect, TypeError};
use tripgate_core::config::convert;
use tripgate_core::{Backoff, Config, ConfigError, FailureRate, Window};
use wasm_bindgen::prelude::*;

/// The canonical option name in JS spelling: `failure_rate.window_calls`
/// becomes `failureRate.windowCalls`.
pub fn camel(option: &str) -> String {
    let mut out = String::with_capacity(option.len());
    let mut upper = false;
    for c in option.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// How JS would show the value in a message: strings quoted, numbers as
/// `String(n)` prints them.
pub fn show(value: &JsValue) -> String {
    if let Some(n) = value.as_f64() {
        return js_sys::Number::from(n)
            .to_string_with_radix(10)
            .map(String::from)
            .unwrap_or_default();
    }
    if let Some(b) = value.as_bool() {
        return b.to_string();
    }
    if value.is_function() {
        return "a function".into();
    }
    match js_sys::JSON::stringify(value)
        .ok()
        .and_then(|s| s.as_string())
    {
        Some(text) => text,
        None => value.js_typeof().as_string().unwrap_or_default(),
    }
}

fn type_error(option: &str, expected: &str, value: &JsValue) -> JsValue {
    TypeError::new(&format!(
        "{} must be {expected}, got {}",
        camel(option),
        show(value)
    ))
    .into()
}

fn range_error(option: &str, requirement: &str, value: &JsValue) -> JsValue {
    RangeError::new(&format!(
        "{} {requirement}, got {}",
        camel(option),
        show(value)
    ))
    .into()
}

/// A core validation error as a `RangeError` (without formatting numbers in
/// Rust: float formatting would add kilobytes to the module).
pub fn config_error(e: ConfigError) -> JsValue {
    RangeError::new(&format!("{} {}", camel(e.option), e.requirement)).into()
}

/// Options as given, so that the core's validation errors can show the
/// caller's own value.
#[derive(Default)]
struct Given {
    values: Vec<(&'static str, JsValue)>,
}

impl Given {
    fn error(&self, e: ConfigError) -> JsValue {
        match self.values.iter().find(|(o, _)| *o == e.option) {
            Some((_, v)) => range_error(e.option, e.requirement, v),
            None => config_error(e),
        }
    }
}

fn get(object: &JsValue, key: &str) -> Result<Option<JsValue>, JsValue> {
    let value = Reflect::get(object, &JsValue::from_str(key))?;
    Ok((!value.is_undefined() && !value.is_null()).then_some(value))
}

fn number(given: &mut Given, option: &'static str, value: JsValue) -> Result<f64, JsValue> {
    let n = value
        .as_f64()
        .ok_or_else(|| type_error(option, "a number", &value))?;
    given.values.push((option, value));
    Ok(n)
}

fn count(given: &mut Given, option: &'static str, value: JsValue) -> Result<u32, JsValue> {
    let n = number(given, option, value.clone())?;
    convert::count(option, n).map_err(|e| range_error(option, e.requirement, &value))
}

fn millis(
    given: &mut Given,
    option: &'static str,
    value: JsValue,
) -> Result<std::time::Duration, JsValue> {
    let n = number(given, option, value.clone())?;
    convert::duration(option, n, convert::NANOS_PER_MILLI)
        .map_err(|e| range_error(option, e.requirement, &value))
}

fn nested(option: &'static str, value: JsValue, known: &[&str]) -> Result<JsValue, JsValue> {
    if !value.is_object() || js_sys::Array::is_array(&value) {
        return Err(type_error(option, "an object", &value));
    }
    for key in js_sys::Object::keys(value.unchecked_ref::<js_sys::Object>()).iter() {
        let key = key.as_string().unwrap_or_default();
        if !known.iter().any(|k| camel(k) == key) {
            return Err(TypeError::new(&format!(
                "{} has an unknown key \"{key}\"; expected {}",
                camel(option),
                known
                    .iter()
                    .map(|k| camel(k))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .into());
        }
    }
    Ok(value)
}

/// What the JS layer needs besides the machine's config.
pub struct JsOptions {
    pub config: Config,
    /// Milliseconds.
    pub call_timeout: Option<f64>,
}

/// Parses and validates every option of the JS `CircuitBreaker` (functions
/// are only type-checked here; the JS layer keeps them).
pub fn parse(options: &JsValue) -> Result<JsOptions, JsValue> {
    let options = if options.is_undefined() || options.is_null() {
        js_sys::Object::new().into()
    } else if options.is_object() {
        options.clone()
    } else {
        return Err(
            TypeError::new(&format!("options must be an object, got {}", show(options))).into(),
        );
    };
    let mut given = Given::default();
    let mut config = Config::default();
    if let Some(v) = get(&options, "failureTolerance")? {
        config.failure_tolerance = count(&mut given, "failure_tolerance", v)?;
    }
    if let Some(rate) = get(&options, "failureRate")? {
        let rate = nested(
            "failure_rate",
            rate,
            &[
                "threshold",
                "minimum_calls",
                "window_calls",
                "window_duration",
            ],
        )?;
        let required = |key: &str, option: &str| -> Result<JsValue, JsValue> {
            get(&rate, key)?.ok_or_else(|| {
                TypeError::new(&format!("failureRate needs {}", camel(option))).into()
            })
        };
        let threshold = number(
            &mut given,
            "failure_rate.threshold",
            required("threshold", "threshold")?,
        )?;
        let minimum_calls = count(
            &mut given,
            "failure_rate.minimum_calls",
            required("minimumCalls", "minimum_calls")?,
        )?;
        let window = match (get(&rate, "windowCalls")?, get(&rate, "windowDuration")?) {
            (Some(n), None) => Window::Calls(count(&mut given, "failure_rate.window_calls", n)?),
            (None, Some(d)) => {
                Window::Duration(millis(&mut given, "failure_rate.window_duration", d)?)
            }
            _ => {
                return Err(type_error(
                    "failure_rate",
                    "given exactly one of windowCalls and windowDuration",
                    &rate,
                ))
            }
        };
        config.failure_rate = Some(FailureRate {
            threshold,
            minimum_calls,
            window,
        });
    }
    if let Some(v) = get(&options, "slowCallDuration")? {
        config.slow_call_duration = Some(millis(&mut given, "slow_call_duration", v)?);
    }
    if let Some(v) = get(&options, "resetTimeout")? {
        config.reset_timeout = millis(&mut given, "reset_timeout", v)?;
    }
    if let Some(b) = get(&options, "backoff")? {
        let b = nested("backoff", b, &["multiplier", "max_reset_timeout", "jitter"])?;
        let multiplier = get(&b, "multiplier")?
            .ok_or_else(|| JsValue::from(TypeError::new("backoff needs multiplier")))?;
        let max = get(&b, "maxResetTimeout")?
            .ok_or_else(|| JsValue::from(TypeError::new("backoff needs maxResetTimeout")))?;
        config.backoff = Some(Backoff {
            multiplier: number(&mut given, "backoff.multiplier", multiplier)?,
            max_reset_timeout: millis(&mut given, "backoff.max_reset_timeout", max)?,
            jitter: match get(&b, "jitter")? {
                Some(j) => number(&mut given, "backoff.jitter", j)?,
                None => 0.0,
            },
        });
    }
    if let Some(v) = get(&options, "halfOpenMaxCalls")? {
        config.half_open_max_calls = count(&mut given, "half_open_max_calls", v)?;
    }
    if let Some(v) = get(&options, "successThreshold")? {
        config.success_threshold = count(&mut given, "success_threshold", v)?;
    }
    if let Some(v) = get(&options, "trialTimeout")? {
        config.trial_timeout = millis(&mut given, "trial_timeout", v)?;
    }
    if let Some(v) = get(&options, "seed")? {
        let n = number(&mut given, "seed", v.clone())?;
        config.seed =
            Some(convert::seed("seed", n).map_err(|e| range_error("seed", e.requirement, &v))?);
    }
    config.validate().map_err(|e| given.error(e))?;

    let call_timeout = match get(&options, "callTimeout")? {
        None => None,
        Some(v) => {
            let ms = v
                .as_f64()
                .ok_or_else(|| type_error("call_timeout", "a number", &v))?;
            if !(ms.is_finite() && ms > 0.0) {
                return Err(range_error(
                    "call_timeout",
                    "must be a finite number greater than 0",
                    &v,
                ));
            }
            Some(ms)
        }
    };
    for (key, option) in [
        ("isFailure", "is_failure"),
        ("isResultFailure", "is_result_failure"),
        ("clock", "clock"),
    ] {
        if let Some(f) = get(&options, key)? {
            if !f.is_function() {
                return Err(type_error(option, "a function", &f));
            }
        }
    }
    if let Some(name) = get(&options, "name")? {
        if !name.is_string() {
            return Err(type_error("name", "a string", &name));
        }
    }
    Ok(JsOptions {
        config,
        call_timeout,
    })
}
