//! Behaviour of the machine's API beyond the scenarios: raw permits, the
//! transition queue, option conversion and error texts.

use std::time::Duration;

use tripgate_core::config::{convert, slot_of, OPTION_NAMES};
use tripgate_core::{
    Config, ConfigError, Decision, Machine, OptionValue, Permit, Reason, State,
    MAX_PENDING_TRANSITIONS,
};

const MS: u64 = 1_000_000;

fn admit(machine: &mut Machine, now: u64) -> Permit {
    match machine.try_acquire(now) {
        Decision::Admitted(p) => p,
        Decision::Rejected(r) => panic!("rejected: {r:?}"),
    }
}

fn trip(machine: &mut Machine, now: u64) {
    let p = admit(machine, now);
    machine.on_failure(p, now);
}

#[test]
fn raw_permits_round_trip() {
    let mut machine = Machine::new(
        Config {
            failure_tolerance: 0,
            ..Config::default()
        },
        0,
    )
    .unwrap();
    let p = admit(&mut machine, 5);
    let raw = p.into_raw();
    assert_eq!(raw, (0, 5, 0));
    let p = Permit::from_raw(raw.0, raw.1, raw.2);
    assert!(!machine.on_failure(p, 6).stale);
    assert_eq!(machine.state(6), State::Open);
}

#[test]
fn a_trial_reported_twice_is_stale_the_second_time() {
    let config = Config {
        failure_tolerance: 0,
        success_threshold: 2,
        half_open_max_calls: 2,
        reset_timeout: Duration::from_millis(1),
        ..Config::default()
    };
    let mut machine = Machine::new(config, 0).unwrap();
    trip(&mut machine, 0);
    let trial = admit(&mut machine, MS);
    let (g, at, id) = trial.into_raw();
    assert!(id != 0);
    assert!(!machine.on_success(Permit::from_raw(g, at, id), MS).stale);
    // A binding bug reporting the same trial again must not count as a second success.
    assert!(machine.on_success(Permit::from_raw(g, at, id), MS).stale);
    assert_eq!(machine.state(MS), State::HalfOpen);
}

#[test]
fn a_trial_reported_twice_frees_only_its_own_slot_while_others_are_in_flight() {
    let config = Config {
        failure_tolerance: 0,
        success_threshold: 3,
        half_open_max_calls: 3,
        reset_timeout: Duration::from_millis(1),
        ..Config::default()
    };
    for report_again in [
        |m: &mut Machine, p: Permit| m.on_success(p, MS),
        |m: &mut Machine, p: Permit| m.on_failure(p, MS),
        |m: &mut Machine, p: Permit| m.release(p, MS),
    ] {
        let mut machine = Machine::new(config.clone(), 0).unwrap();
        trip(&mut machine, 0);
        let a = admit(&mut machine, MS).into_raw();
        let b = admit(&mut machine, MS);
        let c = admit(&mut machine, MS);
        assert!(
            !machine
                .on_success(Permit::from_raw(a.0, a.1, a.2), MS)
                .stale
        );
        assert_eq!(machine.stats(MS).trials_in_flight, 2);
        // Reported again, in any way: stale, and b's and c's slots stay taken.
        assert!(report_again(&mut machine, Permit::from_raw(a.0, a.1, a.2)).stale);
        let stats = machine.stats(MS);
        assert_eq!((stats.state, stats.trials_in_flight), (State::HalfOpen, 2));
        let d = admit(&mut machine, MS);
        assert!(matches!(machine.try_acquire(MS), Decision::Rejected(_)));
        assert!(!machine.on_success(b, MS).stale);
        assert!(!machine.on_success(d, MS).stale, "d is the third success");
        assert_eq!(machine.state(MS), State::Closed);
        assert!(
            machine.on_success(c, MS).stale,
            "c belongs to the half-open period"
        );
    }
}

#[test]
fn undrained_transitions_are_capped() {
    let mut machine = Machine::new(Config::default(), 0).unwrap();
    for t in 0..(MAX_PENDING_TRANSITIONS as u64 + 10) {
        if t % 2 == 0 {
            machine.force_open(t)
        } else {
            machine.force_closed(t)
        }
    }
    let drained: Vec<_> = std::iter::from_fn(|| machine.poll_transition()).collect();
    assert_eq!(drained.len(), MAX_PENDING_TRANSITIONS);
    assert_eq!(
        drained.last().unwrap().at,
        MAX_PENDING_TRANSITIONS as u64 + 9,
        "the newest are kept"
    );
    assert!(!machine.has_transitions());
}

#[test]
fn needs_clock_only_where_time_matters() {
    let mut plain = Machine::new(
        Config {
            failure_tolerance: 0,
            ..Config::default()
        },
        0,
    )
    .unwrap();
    assert!(!plain.needs_clock());
    trip(&mut plain, 0);
    assert!(
        plain.needs_clock(),
        "an open breaker must see time to move to half-open"
    );
    let slow = Machine::new(
        Config {
            slow_call_duration: Some(Duration::from_secs(1)),
            ..Config::default()
        },
        0,
    )
    .unwrap();
    assert!(slow.needs_clock());
}

#[test]
fn idle_only_when_closed_with_nothing_in_flight() {
    let mut m = Machine::new(
        Config {
            failure_tolerance: 0,
            reset_timeout: Duration::from_nanos(10),
            ..Config::default()
        },
        0,
    )
    .unwrap();
    assert!(m.is_idle(), "a new breaker");
    let Decision::Admitted(p) = m.try_acquire(0) else {
        panic!("closed admits")
    };
    assert!(!m.is_idle(), "a call in flight");
    m.on_success(p, 1);
    assert!(m.is_idle(), "its success reported");
    trip(&mut m, 2);
    assert!(!m.is_idle(), "open");
    assert_eq!(m.state(20), State::HalfOpen);
    assert!(!m.is_idle(), "half-open");
    m.force_closed(21);
    assert!(!m.is_idle(), "forced closed");
    m.reset(22);
    assert!(m.is_idle(), "closed again by reset");
    let Decision::Admitted(p) = m.try_acquire(23) else {
        panic!("closed admits")
    };
    m.release(p, 24);
    assert!(m.is_idle(), "its permit released");
}

#[test]
fn success_is_quiet_only_where_it_changes_nothing_but_counters() {
    let mut plain = Machine::new(
        Config {
            failure_tolerance: 0,
            ..Config::default()
        },
        0,
    )
    .unwrap();
    assert!(plain.success_is_quiet());
    trip(&mut plain, 0);
    assert!(
        !plain.success_is_quiet(),
        "open: a late success is stale, but trials are not quiet"
    );
    plain.force_closed(1);
    assert!(plain.success_is_quiet());
    let rate = Config {
        failure_rate: Some(tripgate_core::FailureRate {
            threshold: 0.5,
            minimum_calls: 2,
            window: tripgate_core::Window::Calls(2),
        }),
        ..Config::default()
    };
    assert!(
        !Machine::new(rate, 0).unwrap().success_is_quiet(),
        "a success can trip a rate policy"
    );
}

#[test]
fn every_transition_obeys_the_table() {
    for reason in Reason::ALL {
        let (sources, target) = reason.rule();
        assert!(!sources.is_empty());
        assert_eq!(reason.target(), target);
        assert_eq!(Reason::from_name(reason.name()), Some(reason));
    }
    for state in State::ALL {
        assert_eq!(State::from_name(state.name()), Some(state));
        assert!(
            Reason::ALL.iter().any(|r| r.target() == state),
            "{state} is reachable"
        );
    }
    assert_eq!(State::from_name("sideways"), None);
}

#[test]
fn config_errors_name_the_option_and_value() {
    let err = Config {
        reset_timeout: Duration::ZERO,
        ..Config::default()
    }
    .validate()
    .unwrap_err();
    assert_eq!(err.option(), "reset_timeout");
    assert_eq!(
        err.to_string(),
        "invalid option reset_timeout: 0ns must be greater than 0"
    );
    assert_eq!(ConfigError::CODE, "invalid_config");
    let err = Config {
        failure_rate: Some(tripgate_core::FailureRate {
            threshold: f64::NAN,
            minimum_calls: 1,
            window: tripgate_core::Window::Calls(3),
        }),
        ..Config::default()
    }
    .validate()
    .unwrap_err();
    assert_eq!(
        (err.option(), err.to_string()),
        (
            "failure_rate.threshold",
            "invalid option failure_rate.threshold: NaN must be greater than 0 and at most 1"
                .to_string()
        )
    );
    assert!(Machine::new(
        Config {
            half_open_max_calls: 0,
            ..Config::default()
        },
        0
    )
    .is_err());
}

#[test]
fn config_error_options_are_all_listed() {
    let cases = [
        Config {
            failure_tolerance: 0,
            success_threshold: 0,
            ..Config::default()
        },
        Config {
            trial_timeout: Duration::ZERO,
            ..Config::default()
        },
        Config {
            slow_call_duration: Some(Duration::ZERO),
            ..Config::default()
        },
        Config {
            reset_timeout: Duration::MAX,
            ..Config::default()
        },
    ];
    for config in cases {
        let err = config.validate().unwrap_err();
        assert!(OPTION_NAMES.contains(&err.option()), "{}", err.option());
    }
}

#[test]
fn float_conversions_reject_what_is_not_a_valid_number() {
    for bad in [f64::NAN, f64::INFINITY, -1.0, -0.5, 1e300] {
        let err =
            convert::duration(slot_of("reset_timeout"), bad, convert::NANOS_PER_MILLI).unwrap_err();
        assert_eq!(err.option(), "reset_timeout");
        assert!(matches!(err.value, OptionValue::Raw(v) if v.is_nan() == bad.is_nan()));
    }
    assert_eq!(
        convert::duration(slot_of("reset_timeout"), 1.5, convert::NANOS_PER_MILLI),
        Ok(Duration::from_micros(1500))
    );
    assert_eq!(
        convert::duration(slot_of("reset_timeout"), 0.25, convert::NANOS_PER_SECOND),
        Ok(Duration::from_millis(250))
    );
    for bad in [f64::NAN, 1.5, -1.0, 5e9, f64::INFINITY] {
        assert!(
            convert::count(slot_of("failure_tolerance"), bad).is_err(),
            "{bad}"
        );
    }
    assert_eq!(
        convert::count(slot_of("failure_tolerance"), 4294967295.0),
        Ok(u32::MAX)
    );
    assert!(convert::seed(2f64.powi(54)).is_err());
    assert_eq!(convert::seed(2f64.powi(53)), Ok(1 << 53));
}

#[test]
fn snapshots_round_trip_through_json() {
    let config = Config {
        failure_tolerance: 0,
        ..Config::default()
    };
    let mut machine = Machine::new(config.clone(), 0).unwrap();
    trip(&mut machine, 10 * MS);
    let snapshot = machine.snapshot(20 * MS);
    let json = serde_json::to_string(&snapshot).unwrap();
    assert!(json.contains("\"state\":\"open\""), "{json}");
    let back: tripgate_core::Snapshot = serde_json::from_str(&json).unwrap();
    assert_eq!(back, snapshot);
    let mut restored = Machine::restore(config, &back, 0).unwrap();
    assert_eq!(
        restored.retry_after(0),
        Some(Duration::from_secs(30) - Duration::from_millis(10))
    );
}

#[test]
fn times_near_the_end_of_u64_saturate_instead_of_overflowing() {
    let config = Config {
        failure_tolerance: 0,
        reset_timeout: Duration::from_secs(1 << 30),
        ..Config::default()
    };
    let mut machine = Machine::new(config, u64::MAX - 5).unwrap();
    trip(&mut machine, u64::MAX - 1);
    assert_eq!(
        machine.retry_after(u64::MAX - 1),
        Some(Duration::from_nanos(1)),
        "the deadline saturates at the end of time"
    );
    assert!(matches!(machine.try_acquire(u64::MAX), Decision::Admitted(p) if p.is_trial()));
}

#[test]
fn the_dependency_free_json_codec_matches_serde() {
    use tripgate_core::{Backoff, FailureRate, Snapshot, Window};
    let configs = [
        Config {
            failure_tolerance: 0,
            ..Config::default()
        },
        Config {
            failure_tolerance: 100,
            failure_rate: Some(FailureRate {
                threshold: 0.5,
                minimum_calls: 3,
                window: Window::Calls(4),
            }),
            ..Config::default()
        },
        Config {
            failure_tolerance: 100,
            failure_rate: Some(FailureRate {
                threshold: 0.5,
                minimum_calls: 30,
                window: Window::Duration(Duration::from_secs(1)),
            }),
            backoff: Some(Backoff {
                multiplier: 2.0,
                max_reset_timeout: Duration::from_secs(60),
                jitter: 0.5,
            }),
            seed: Some(u64::MAX),
            ..Config::default()
        },
    ];
    for config in configs {
        let mut machine = Machine::new(config.clone(), 0).unwrap();
        for t in 1..8u64 {
            if let Decision::Admitted(p) = machine.try_acquire(t * 100 * MS) {
                if t % 3 == 0 {
                    machine.on_success(p, t * 100 * MS);
                } else {
                    machine.on_failure(p, t * 100 * MS);
                }
            }
        }
        let snapshot = machine.snapshot(900 * MS);
        let ours = snapshot.to_json();
        assert_eq!(ours, serde_json::to_string(&snapshot).unwrap());
        assert_eq!(Snapshot::from_json(&ours).unwrap(), snapshot);
        let spaced = serde_json::to_string_pretty(&snapshot).unwrap();
        assert_eq!(Snapshot::from_json(&spaced).unwrap(), snapshot);
    }
}

#[test]
fn the_json_codec_rejects_what_is_not_a_snapshot() {
    use tripgate_core::{RestoreError, Snapshot};
    let good = Machine::new(Config::default(), 0)
        .unwrap()
        .snapshot(0)
        .to_json();
    let deep = "[".repeat(10_000);
    let bad = [
        "",
        "null",
        "{}",
        "{\"version\":1}",
        &good[..good.len() - 1],
        &good.replace("\"closed\"", "\"sideways\""),
        &good.replace("\"generation\":0", "\"generation\":-1"),
        &good.replace("\"generation\":0", "\"generation\":1.5"),
        &good.replace("\"generation\":0", "\"generation\":18446744073709551616"),
        &good.replace("\"rng_state\":\"", "\"rng_state\":\"x"),
        &(good.clone() + "x"),
        &deep,
    ];
    for text in bad {
        assert!(
            matches!(
                Snapshot::from_json(text),
                Err(RestoreError::Snapshot {
                    field: tripgate_core::SnapshotField::Snapshot,
                    ..
                })
            ),
            "{text:.80}"
        );
    }
    let with_unknown = good.replacen('{', "{\"later_field\":[1,{\"a\":\"\\u00e9\\n\"}],", 1);
    assert!(Snapshot::from_json(&with_unknown).is_ok());
}

#[test]
fn bucket_snapshots_list_the_window_oldest_first_after_the_slots_wrap() {
    use tripgate_core::{BucketSnapshot, FailureRate, Window, WindowSnapshot};
    let config = Config {
        failure_tolerance: 1_000,
        failure_rate: Some(FailureRate {
            threshold: 1.0,
            minimum_calls: 1_000,
            window: Window::Duration(Duration::from_millis(1_000)),
        }),
        ..Config::default()
    };
    let mut machine = Machine::new(config.clone(), 0).unwrap();
    // One call per 100 ms bucket for 2.35 windows, skipping bucket 17; a
    // failure in every third bucket.
    for index in 0..24u64 {
        if index == 17 {
            continue;
        }
        let t = index * 100 * MS + 50 * MS;
        let Decision::Admitted(p) = machine.try_acquire(t) else {
            panic!("rejected at {t}")
        };
        if index % 3 == 0 {
            machine.on_failure(p, t);
        } else {
            machine.on_success(p, t);
        }
    }
    let snapshot = machine.snapshot(2_350 * MS);
    let Some(WindowSnapshot::Buckets { buckets, .. }) = &snapshot.window else {
        panic!("no bucket window: {:?}", snapshot.window)
    };
    let expected: Vec<BucketSnapshot> = (14..=23)
        .filter(|index| *index != 17)
        .map(|index| BucketSnapshot {
            index,
            calls: 1,
            failures: u32::from(index % 3 == 0),
        })
        .collect();
    assert_eq!(buckets, &expected);
    let mut restored = Machine::restore(config, &snapshot, 0).unwrap();
    assert_eq!(restored.snapshot(0).window, snapshot.window);
}
