//! Writes and checks `tests/conformance/snapshot_vectors.json`: snapshots of
//! machines driven here, each with the exact JSON text the core's codec
//! writes for the machine restored from it, and snapshots that must be
//! refused (with the field named). The JS and Python runners read the same
//! file, so a binding that converts snapshots itself (the npm package does,
//! to keep a JSON parser out of its wasm module) must agree with this codec
//! byte for byte.
//!
//! `TRIPGATE_BLESS=1 cargo test -p tripgate-core --test snapshot_vectors`
//! rewrites the file after an intended change.

use serde_json::{json, Value};
use tripgate_core::{Decision, Machine, Permit, RestoreError, Snapshot};

mod common;
use common::parse_config;

const MS: u64 = 1_000_000;

fn admit(machine: &mut Machine, at_ms: u64) -> Permit {
    match machine.try_acquire(at_ms * MS) {
        Decision::Admitted(p) => p,
        Decision::Rejected(r) => panic!("rejected at {at_ms} ms: {r:?}"),
    }
}

/// One call per entry at the given millisecond: `true` fails.
fn calls(machine: &mut Machine, outcomes: &[(u64, bool)]) {
    for &(at, failed) in outcomes {
        let permit = admit(machine, at);
        if failed {
            machine.on_failure(permit, at * MS);
        } else {
            machine.on_success(permit, at * MS);
        }
    }
}

type Drive = fn(&mut Machine) -> u64;

/// (name, config, drive → the time of the snapshot in ms).
fn valid_cases() -> Vec<(&'static str, Value, Drive)> {
    vec![
        ("closed_fresh", json!({}), |_| 0),
        (
            "closed_with_failures_and_a_large_seed",
            json!({"failure_tolerance": 5, "seed": 9_007_199_254_740_992u64}),
            |m| {
                calls(m, &[(1, true), (2, false), (3, true), (4, true)]);
                10
            },
        ),
        (
            "open_after_a_failed_trial_with_backoff_and_jitter",
            json!({"failure_tolerance": 0, "reset_timeout": 1000, "seed": 42,
                   "backoff": {"multiplier": 2, "max_reset_timeout": 60000, "jitter": 0.5}}),
            |m| {
                calls(m, &[(5, true)]);
                let trial = admit(m, 5_000);
                m.on_failure(trial, 5_001);
                5_300
            },
        ),
        (
            "half_open_with_a_trial_in_flight",
            json!({"failure_tolerance": 0, "reset_timeout": 500, "half_open_max_calls": 2,
                   "success_threshold": 2}),
            |m| {
                calls(m, &[(1, true), (600, false)]);
                let _in_flight = admit(m, 601);
                650
            },
        ),
        (
            "calls_window_partly_filled",
            json!({"failure_tolerance": 100,
                   "failure_rate": {"threshold": 0.9, "minimum_calls": 5, "window_calls": 5}}),
            |m| {
                calls(m, &[(1, true), (2, false), (3, true)]);
                4
            },
        ),
        (
            "calls_window_wrapped",
            json!({"failure_tolerance": 100,
                   "failure_rate": {"threshold": 1, "minimum_calls": 4, "window_calls": 4}}),
            |m| {
                let outcomes: Vec<(u64, bool)> = (1..=7).map(|t| (t, t % 3 == 0)).collect();
                calls(m, &outcomes);
                8
            },
        ),
        (
            "time_window_wrapped",
            json!({"failure_tolerance": 100,
                   "failure_rate": {"threshold": 1, "minimum_calls": 1000, "window_duration": 1000}}),
            |m| {
                let outcomes: Vec<(u64, bool)> = (0..24)
                    .filter(|i| *i != 17)
                    .map(|i| (i * 100 + 50, i % 3 == 0))
                    .collect();
                calls(m, &outcomes);
                2_350
            },
        ),
        ("forced_open", json!({}), |m| {
            calls(m, &[(1, false)]);
            m.force_open(2 * MS);
            3
        }),
        ("forced_closed", json!({"failure_tolerance": 0}), |m| {
            m.force_closed(MS);
            calls(m, &[(2, true), (3, true)]);
            4
        }),
    ]
}

/// (name, config, the valid case whose snapshot is spoiled, the spoiling,
/// the field the error must name).
type Spoil = fn(&mut Value);

fn invalid_cases() -> Vec<(&'static str, &'static str, Spoil, &'static str)> {
    vec![
        (
            "negative_generation",
            "closed_fresh",
            |s| s["generation"] = json!(-1),
            "snapshot",
        ),
        (
            "fractional_generation",
            "closed_fresh",
            |s| s["generation"] = json!(1.5),
            "snapshot",
        ),
        (
            "generation_as_text",
            "closed_fresh",
            |s| s["generation"] = json!("1"),
            "snapshot",
        ),
        (
            "consecutive_failures_past_u32",
            "closed_fresh",
            |s| s["consecutive_failures"] = json!(4_294_967_296u64),
            "snapshot",
        ),
        (
            "rng_state_past_u64",
            "closed_fresh",
            |s| s["rng_state"] = json!("18446744073709551616"),
            "snapshot",
        ),
        (
            "rng_state_not_digits",
            "closed_fresh",
            |s| s["rng_state"] = json!("12a"),
            "snapshot",
        ),
        (
            "rng_state_as_number",
            "closed_fresh",
            |s| s["rng_state"] = json!(7),
            "snapshot",
        ),
        (
            "unknown_state",
            "closed_fresh",
            |s| s["state"] = json!("sideways"),
            "snapshot",
        ),
        (
            "age_as_text",
            "closed_fresh",
            |s| s["last_transition_age"] = json!("0"),
            "snapshot",
        ),
        (
            "missing_counter",
            "closed_fresh",
            |s| {
                s["counters"]
                    .as_object_mut()
                    .unwrap()
                    .remove("trial_timeouts");
            },
            "snapshot",
        ),
        (
            "missing_window",
            "closed_fresh",
            |s| {
                s.as_object_mut().unwrap().remove("window");
            },
            "snapshot",
        ),
        (
            "counters_not_an_object",
            "closed_fresh",
            |s| s["counters"] = json!([]),
            "snapshot",
        ),
        (
            "unknown_window_kind",
            "calls_window_partly_filled",
            |s| s["window"]["kind"] = json!("ring"),
            "snapshot",
        ),
        (
            "outcome_not_a_boolean",
            "calls_window_partly_filled",
            |s| s["window"]["outcomes"][1] = json!(1),
            "snapshot",
        ),
        (
            "negative_bucket_calls",
            "time_window_wrapped",
            |s| s["window"]["buckets"][0]["calls"] = json!(-1),
            "snapshot",
        ),
        (
            "generation_past_2_53",
            "closed_fresh",
            |s| s["generation"] = json!(9_007_199_254_740_992u64),
            "generation",
        ),
        (
            "generation_near_2_64",
            "closed_fresh",
            |s| s["generation"] = json!(u64::MAX),
            "generation",
        ),
        (
            "admitted_past_2_53",
            "closed_fresh",
            |s| s["counters"]["admitted"] = json!(9_007_199_254_740_992u64),
            "counters.admitted",
        ),
        (
            "rejections_near_2_64",
            "closed_fresh",
            |s| s["counters"]["rejections"] = json!(u64::MAX - 1),
            "counters.rejections",
        ),
        (
            "unknown_version",
            "closed_fresh",
            |s| s["version"] = json!(3),
            "version",
        ),
        (
            "abandoned_above_released",
            "closed_with_failures_and_a_large_seed",
            |s| s["counters"]["abandoned"] = json!(1),
            "counters.abandoned",
        ),
        (
            "version_2_without_abandoned",
            "closed_fresh",
            |s| {
                s["counters"].as_object_mut().unwrap().remove("abandoned");
            },
            "snapshot",
        ),
        (
            "window_of_another_config",
            "calls_window_partly_filled",
            |s| s["window"] = Value::Null,
            "window",
        ),
    ]
}

/// The field a refused snapshot names, or `None` if it restores.
fn refusal(config: &Value, snapshot: &Value) -> Option<&'static str> {
    let config = parse_config(config).unwrap();
    match Snapshot::from_json(&snapshot.to_string())
        .and_then(|s| Machine::restore(config, &s, 0).map(|_| ()))
    {
        Ok(()) => None,
        Err(RestoreError::Snapshot { field, .. }) => Some(field.name()),
        Err(e) => panic!("config error {e}"),
    }
}

fn vectors() -> Value {
    let mut valid = Vec::new();
    let mut snapshots = std::collections::HashMap::new();
    for (name, config, drive) in valid_cases() {
        let mut machine = Machine::new(parse_config(&config).unwrap(), 0).unwrap();
        let at = drive(&mut machine);
        let snapshot = machine.snapshot(at * MS);
        let mut restored =
            Machine::restore(parse_config(&config).unwrap(), &snapshot, at * MS).unwrap();
        let text = snapshot.to_json();
        let object: Value = serde_json::from_str(&text).unwrap();
        snapshots.insert(name, (config.clone(), object.clone()));
        valid.push(json!({
            "name": name,
            "config": config,
            "at": at,
            "snapshot": object,
            "restored_snapshot": restored.snapshot(at * MS).to_json(),
        }));
    }
    // Version 1 snapshots (no `abandoned`) still restore.
    for base in [
        "half_open_with_a_trial_in_flight",
        "closed_with_failures_and_a_large_seed",
    ] {
        let (config, mut object) = snapshots[base].clone();
        object["version"] = json!(1);
        object["counters"]
            .as_object_mut()
            .unwrap()
            .remove("abandoned");
        let snapshot = Snapshot::from_json(&object.to_string()).unwrap();
        let mut restored = Machine::restore(parse_config(&config).unwrap(), &snapshot, 0).unwrap();
        valid.push(json!({
            "name": format!("{base}_as_version_1"),
            "config": config,
            "at": 0,
            "snapshot": object,
            "restored_snapshot": restored.snapshot(0).to_json(),
        }));
    }
    let mut invalid = Vec::new();
    for (name, base, spoil, field) in invalid_cases() {
        let (config, mut snapshot) = snapshots[base].clone();
        spoil(&mut snapshot);
        assert_eq!(refusal(&config, &snapshot), Some(field), "{name}");
        invalid.push(json!({"name": name, "config": config, "snapshot": snapshot, "field": field}));
    }
    json!({
        "description": "Snapshots and the exact JSON text (restored_snapshot) the core writes for a machine restored from each at the same time `at` (ms; configs in the scenario format); then snapshots every language must refuse with InvalidSnapshotError naming `field`.",
        "source": "generated by core/tests/snapshot_vectors.rs from machines driven there and the core's JSON codec; TRIPGATE_BLESS=1 cargo test -p tripgate-core --test snapshot_vectors rewrites it",
        "valid": valid,
        "invalid": invalid,
    })
}

#[test]
fn the_snapshot_vectors_file_is_what_the_core_writes() {
    let expected = serde_json::to_string_pretty(&vectors()).unwrap() + "\n";
    common::check_generated("../tests/conformance/snapshot_vectors.json", &expected);
}
