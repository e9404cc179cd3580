//! The Rust runner of the language-neutral scenarios in `tests/conformance/`.
//! The format is described in `tests/conformance/README.md`; the JS and
//! Python runners read the same files.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};
use tripgate_core::{Config, Decision, Machine, OptionValue, Permit, RestoreError, Snapshot};

mod common;
use common::{parse_config, OptionError};
use tripgate_core::binding;

const NANOS_PER_MS: f64 = 1e6;

fn scenario_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/conformance/scenarios")
}

fn ms(d: Duration) -> Value {
    json!(d.as_nanos() as f64 / NANOS_PER_MS)
}

fn ms_of_nanos(n: u64) -> Value {
    json!(n as f64 / NANOS_PER_MS)
}

/// `actual` matches `expected` when every key of an expected object matches
/// (extra actual keys are ignored) and numbers agree to a nanosecond.
fn matches(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => e
            .iter()
            .all(|(k, ev)| a.get(k).is_some_and(|av| matches(ev, av))),
        (Value::Array(e), Value::Array(a)) => {
            e.len() == a.len() && e.iter().zip(a).all(|(ev, av)| matches(ev, av))
        }
        (Value::Number(e), Value::Number(a)) => {
            let (e, a) = (e.as_f64().unwrap(), a.as_f64().unwrap());
            (e - a).abs() <= 1e-6_f64.max(e.abs() * 1e-12)
        }
        _ => expected == actual,
    }
}

struct Run {
    machine: Machine,
    config: Config,
    permits: HashMap<String, Permit>,
    snapshots: HashMap<String, Snapshot>,
}

fn check(step: usize, what: &str, expected: &Value, actual: &Value) -> Result<(), String> {
    if matches(expected, actual) {
        Ok(())
    } else {
        Err(format!(
            "step {step} ({what}): expected {expected}, got {actual}"
        ))
    }
}

impl Run {
    fn take(&mut self, step: usize, label: &str) -> Result<Permit, String> {
        self.permits
            .remove(label)
            .ok_or_else(|| format!("step {step}: no outstanding permit labelled {label:?}"))
    }

    fn acquire(&mut self, now: u64) -> Value {
        match self.machine.try_acquire(now) {
            Decision::Admitted(permit) => {
                json!({"admitted": true, "trial": permit.is_trial(), "_permit": permit.into_raw()})
            }
            Decision::Rejected(r) => json!({
                "admitted": false,
                "state": r.state.name(),
                "retry_after": r.retry_after.map(ms),
            }),
        }
    }

    fn keep_permit(&mut self, label: &str, outcome: &mut Value) {
        if let Some(raw) = outcome.as_object_mut().and_then(|o| o.remove("_permit")) {
            let raw: (u64, u64, u64) = serde_json::from_value(raw).unwrap();
            self.permits
                .insert(label.to_string(), Permit::from_raw(raw.0, raw.1, raw.2));
        }
    }

    fn step(&mut self, index: usize, step: &Value) -> Result<(), String> {
        let op = step["op"].as_str().ok_or(format!("step {index}: no op"))?;
        let at = step["at"].as_f64().ok_or(format!("step {index}: no at"))?;
        let now = (at * NANOS_PER_MS) as u64;
        let expect = step.get("expect");
        let label = step["permit"].as_str().unwrap_or("");
        let actual: Value = match op {
            "acquire" => {
                let mut outcome = self.acquire(now);
                self.keep_permit(label, &mut outcome);
                outcome
            }
            "acquire_many" => {
                let n = step["count"].as_u64().ok_or(format!("step {index}: no count"))?;
                let (mut admitted, mut rejected) = (0, 0);
                for _ in 0..n {
                    let mut outcome = self.acquire(now);
                    if outcome["admitted"] == json!(true) {
                        self.keep_permit(&format!("{label}{admitted}"), &mut outcome);
                        admitted += 1;
                    } else {
                        rejected += 1;
                    }
                }
                json!({"admitted": admitted, "rejected": rejected})
            }
            "success" | "failure" | "release" => {
                let permit = self.take(index, label)?;
                let report = match op {
                    "success" => self.machine.on_success(permit, now),
                    "failure" => match step["retry_after"].as_f64() {
                        Some(hint) => self.machine.on_failure_with_retry_after(
                            permit,
                            now,
                            Duration::from_nanos((hint * NANOS_PER_MS) as u64),
                        ),
                        None => self.machine.on_failure(permit, now),
                    },
                    _ => self.machine.release(permit, now),
                };
                json!({"stale": report.stale, "slow": report.slow})
            }
            "state" => json!(self.machine.state(now).name()),
            "retry_after" => json!(self.machine.retry_after(now).map(ms)),
            "stats" => {
                let s = self.machine.stats(now);
                json!({
                    "state": s.state.name(),
                    "generation": s.generation,
                    "admitted": s.admitted,
                    "successes": s.successes,
                    "failures": s.failures,
                    "slow_calls": s.slow_calls,
                    "rejections": s.rejections,
                    "released": s.released,
                    "stale_outcomes": s.stale_outcomes,
                    "trial_timeouts": s.trial_timeouts,
                    "abandoned": s.abandoned,
                    "consecutive_failures": s.consecutive_failures,
                    "window_calls": s.window_calls,
                    "window_failures": s.window_failures,
                    "failure_rate": s.failure_rate,
                    "trials_in_flight": s.trials_in_flight,
                    "in_flight": s.in_flight(),
                    "last_transition_at": s.last_transition_at.map(ms_of_nanos),
                    "retry_after": s.retry_after.map(ms),
                })
            }
            "force_open" => {
                self.machine.force_open(now);
                Value::Null
            }
            "force_closed" => {
                self.machine.force_closed(now);
                Value::Null
            }
            "reset" => {
                self.machine.reset(now);
                Value::Null
            }
            "transitions" => Value::Array(
                std::iter::from_fn(|| self.machine.poll_transition())
                    .map(|t| json!({"from": t.from.name(), "to": t.to.name(), "reason": t.reason.name(), "at": ms_of_nanos(t.at), "generation": t.generation}))
                    .collect(),
            ),
            "snapshot" => {
                let snapshot = self.machine.snapshot(now);
                let value = serde_json::to_value(&snapshot).unwrap();
                self.snapshots
                    .insert(step["name"].as_str().unwrap_or("").to_string(), snapshot);
                value
            }
            "restore" => {
                let snapshot = match (&step["name"], &step["snapshot"]) {
                    (Value::String(name), _) => self
                        .snapshots
                        .get(name)
                        .cloned()
                        .ok_or(format!("step {index}: no snapshot named {name:?}"))?,
                    (_, raw) => match serde_json::from_value::<Snapshot>(raw.clone()) {
                        Ok(s) => s,
                        Err(_) => {
                            let actual = json!({"error": {"code": RestoreError::CODE, "field": "snapshot"}});
                            return check(index, op, expect.unwrap_or(&Value::Null), &actual);
                        }
                    },
                };
                let config = match step.get("config") {
                    Some(c) => parse_config(c).map_err(|e| format!("step {index}: bad config {e:?}"))?,
                    None => self.config.clone(),
                };
                match Machine::restore(config.clone(), &snapshot, now) {
                    Ok(machine) => {
                        self.machine = machine;
                        self.config = config;
                        json!({"restored": true})
                    }
                    Err(RestoreError::Snapshot { field, .. }) => {
                        json!({"error": {"code": RestoreError::CODE, "field": field.name()}})
                    }
                    Err(RestoreError::Config(e)) => json!({"error": {"code": "invalid_config", "option": e.option()}}),
                }
            }
            other => return Err(format!("step {index}: unknown op {other:?}")),
        };
        match expect {
            Some(expected) => check(index, op, expected, &actual),
            None => Ok(()),
        }
    }
}

fn option_value_matches(expected: &Value, value: &OptionValue) -> bool {
    let Some(e) = expected.as_f64() else {
        return false;
    };
    match *value {
        OptionValue::Integer(v) => e == v as f64,
        OptionValue::Float(v) | OptionValue::Raw(v) => e == v || (e.is_nan() && v.is_nan()),
        OptionValue::Duration(d) => (e * NANOS_PER_MS - d.as_nanos() as f64).abs() < 1.0,
    }
}

fn run_scenario(scenario: &Value) -> Result<(), String> {
    // call_timeout is a binding option: the machine never sees it, but the
    // kit judges it for every binding.
    let parsed = parse_config(&scenario["config"]).and_then(|config| {
        match scenario.get("call_timeout").and_then(Value::as_f64) {
            Some(ms) => match binding::call_timeout(ms, NANOS_PER_MS) {
                Ok(_) => Ok(config),
                Err(_) => Err(OptionError {
                    option: "call_timeout".into(),
                    kind: "range",
                    value: Some(OptionValue::Raw(ms)),
                }),
            },
            None => Ok(config),
        }
    });
    if let Some(expected) = scenario.get("expect_config_error") {
        let err = match parsed {
            Ok(_) => return Err(format!("config was accepted; expected error {expected}")),
            Err(e) => e,
        };
        if expected["option"] != json!(err.option) || expected["kind"] != json!(err.kind) {
            return Err(format!("expected config error {expected}, got {err:?}"));
        }
        if let (Some(v), Some(actual)) = (expected.get("value"), err.value) {
            if !option_value_matches(v, &actual) {
                return Err(format!("expected error value {v}, got {actual:?}"));
            }
        }
        return Ok(());
    }
    let config = parsed.map_err(|e| format!("config rejected: {e:?}"))?;
    let mut run = Run {
        machine: Machine::new(config.clone(), 0).map_err(|e| e.to_string())?,
        config,
        permits: HashMap::new(),
        snapshots: HashMap::new(),
    };
    let steps = scenario["steps"].as_array().ok_or("no steps")?;
    for (i, step) in steps.iter().enumerate() {
        run.step(i, step)?;
    }
    Ok(())
}

/// The scenario format, tests/conformance/schema.json, compiled.
fn schema() -> (boon::Schemas, boon::SchemaIndex) {
    let text = std::fs::read_to_string(scenario_dir().join("../schema.json")).unwrap();
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler
        .add_resource("file:///schema.json", serde_json::from_str(&text).unwrap())
        .unwrap();
    let index = compiler
        .compile("file:///schema.json", &mut schemas)
        .unwrap();
    (schemas, index)
}

#[test]
fn the_schema_refuses_a_step_without_its_expectation() {
    let (schemas, index) = schema();
    let text = std::fs::read_to_string(scenario_dir().join("half_open_trial_success_closes.json"))
        .unwrap();
    let scenario: Value = serde_json::from_str(&text).unwrap();
    assert!(schemas.validate(&scenario, index).is_ok());
    for op in ["acquire", "success"] {
        let at = scenario["steps"]
            .as_array()
            .unwrap()
            .iter()
            .position(|s| s["op"] == op)
            .unwrap();
        let mut without = scenario.clone();
        without["steps"][at]
            .as_object_mut()
            .unwrap()
            .remove("expect");
        assert!(schemas.validate(&without, index).is_err(), "{op}");
        let mut partial = scenario.clone();
        let expect = partial["steps"][at]["expect"].as_object_mut().unwrap();
        let key = expect.keys().next().unwrap().clone();
        expect.remove(&key);
        assert!(
            schemas.validate(&partial, index).is_err(),
            "{op} without {key}"
        );
    }
}

#[test]
fn every_scenario_passes() {
    let (schemas, index) = schema();
    let mut files: Vec<PathBuf> = std::fs::read_dir(scenario_dir())
        .expect("tests/conformance/scenarios exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 40,
        "expected at least 40 scenarios, found {}",
        files.len()
    );
    let semantics =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/semantics.md"))
            .unwrap();
    let mut failures = Vec::new();
    let mut ran = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let scenario: Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!("{}: not JSON: {e}", file.display()));
                continue;
            }
        };
        let stem = file.file_stem().unwrap().to_str().unwrap();
        if let Err(e) = schemas.validate(&scenario, index) {
            failures.push(format!("{stem}: does not match schema.json: {e}"));
        }
        if scenario["name"] != json!(stem) {
            failures.push(format!("{}: name must equal the file name", file.display()));
        }
        if let Some(section) = scenario["source"]
            .as_str()
            .and_then(|s| s.split("section '").nth(1))
            .and_then(|s| s.split('\'').next())
        {
            if !semantics.contains(&format!("\n## {section}\n")) {
                failures.push(format!(
                    "{stem}: docs/semantics.md has no section {section:?}"
                ));
            }
        } else {
            failures.push(format!(
                "{stem}: source must name the docs/semantics.md section it pins"
            ));
        }
        // Whole-call and group scenarios pin what the bindings own
        // (classification, events, fallbacks, call timeouts, per-key
        // groups): the JS and Python runners run them; here they are
        // validated, checked above, and not run (Rust has no group).
        if scenario["whole_calls"] != json!(true) && scenario.get("group").is_none() {
            if let Err(e) = run_scenario(&scenario) {
                failures.push(format!("{stem}: {e}"));
            }
        }
        ran += 1;
    }
    assert_eq!(ran, files.len(), "every scenario file on disk must run");
    assert!(
        failures.is_empty(),
        "{} of {} scenarios failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
    println!("ran {ran} conformance scenarios");
}
