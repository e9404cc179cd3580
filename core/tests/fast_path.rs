//! The thread-safe `CircuitBreaker`'s lock-free path for the closed state
//! against the machine it folds into: driven by the same random inputs, the
//! breaker and a bare `Machine` must agree on every decision and every
//! figure of the stats, whichever of the breaker's paths an input took; and
//! under threads, every permit is accounted for.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use proptest::prelude::*;
use tripgate_core::{
    CircuitBreaker, Config, Decision, FailureRate, Machine, ManualClock, Permit, State, Window,
};

#[derive(Clone, Debug)]
enum Input {
    Acquire,
    Success(usize),
    Failure(usize),
    Release(usize),
    Advance(u64),
    Stats,
    ForceOpen,
    ForceClosed,
    Reset,
}

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        8 => Just(Input::Acquire),
        8 => any::<usize>().prop_map(Input::Success),
        3 => any::<usize>().prop_map(Input::Failure),
        1 => any::<usize>().prop_map(Input::Release),
        2 => (0u64..50).prop_map(Input::Advance),
        1 => Just(Input::Stats),
        1 => Just(Input::ForceOpen),
        1 => Just(Input::ForceClosed),
        1 => Just(Input::Reset),
    ]
}

/// Mostly configs where the fast path opens (no failure rate, no slow-call
/// limit), some where it never does.
fn config() -> impl Strategy<Value = Config> {
    let rate = prop_oneof![
        4 => Just(None),
        1 => (1u32..6).prop_map(|n| Some(FailureRate {
            threshold: 0.5,
            minimum_calls: n,
            window: Window::Calls(n),
        })),
    ];
    let slow =
        prop_oneof![4 => Just(None), 1 => (1u64..30).prop_map(|n| Some(Duration::from_nanos(n)))];
    (0u32..4, rate, slow, 1u64..60, 1u32..3).prop_map(
        |(tolerance, failure_rate, slow_call_duration, reset, max_calls)| Config {
            failure_tolerance: tolerance,
            failure_rate,
            slow_call_duration,
            reset_timeout: Duration::from_nanos(reset),
            half_open_max_calls: max_calls,
            trial_timeout: Duration::from_nanos(40),
            seed: Some(1),
            ..Config::default()
        },
    )
}

/// The machine's `quiet_calls` against the calls it stands for: after any
/// history, it either refuses (changing nothing) or leaves the machine as
/// that many `try_acquire` and then `on_success` calls at the latest time do.
fn quiet_calls_match_the_calls(
    config: Config,
    history: &[Input],
    acquires: u64,
    successes: u64,
) -> Result<(), TestCaseError> {
    let mut machine = Machine::new(config, 0).unwrap();
    let mut permits = Vec::new();
    let mut now = 0;
    for input in history {
        match input {
            Input::Acquire => {
                if let Decision::Admitted(p) = machine.try_acquire(now) {
                    permits.push(p);
                }
            }
            Input::Success(i) | Input::Failure(i) | Input::Release(i) if !permits.is_empty() => {
                let p = permits.swap_remove(i % permits.len());
                match input {
                    Input::Success(_) => machine.on_success(p, now),
                    Input::Failure(_) => machine.on_failure(p, now),
                    _ => machine.release(p, now),
                };
            }
            Input::Advance(d) => now += d,
            Input::ForceOpen => machine.force_open(now),
            Input::ForceClosed => machine.force_closed(now),
            Input::Reset => machine.reset(now),
            _ => {}
        }
    }
    let mut by_calls = machine.clone();
    let quiet = machine.success_is_quiet() && !machine.needs_clock();
    // An older generation's calls are never quiet ones.
    prop_assert!(!machine.quiet_calls(machine.generation().wrapping_sub(1), acquires, successes));
    prop_assert_eq!(
        machine.quiet_calls(machine.generation(), acquires, successes),
        quiet
    );
    if quiet {
        let latest = by_calls.latest_time();
        for _ in 0..acquires {
            prop_assert!(matches!(
                by_calls.try_acquire(latest),
                Decision::Admitted(_)
            ));
        }
        let generation = by_calls.generation();
        for _ in 0..successes {
            by_calls.on_success(Permit::from_raw(generation, 0, 0), latest);
        }
    }
    prop_assert_eq!(machine.stats(now), by_calls.stats(now));
    prop_assert_eq!(machine.snapshot(now), by_calls.snapshot(now));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn quiet_calls_are_the_calls_they_stand_for(config in config(), history in prop::collection::vec(input(), 0..40), acquires in 0u64..70, extra in 0u64..5) {
        // Successes never outnumber the admissions in flight.
        quiet_calls_match_the_calls(config, &history, acquires + extra, acquires)?;
    }

    #[test]
    fn the_breaker_agrees_with_its_machine_input_by_input(config in config(), inputs in prop::collection::vec(input(), 1..120)) {
        let clock = Arc::new(ManualClock::new(0));
        let breaker = CircuitBreaker::with_clock(config.clone(), clock.clone()).unwrap();
        let mut machine = Machine::new(config, 0).unwrap();
        let mut guards = Vec::new();
        let mut permits: Vec<Permit> = Vec::new();
        for input in inputs {
            let now = clock.now_nanos();
            match input {
                Input::Acquire => {
                    let expected = machine.try_acquire(now);
                    match (breaker.try_acquire(), expected) {
                        (Ok(guard), Decision::Admitted(permit)) => {
                            prop_assert_eq!(guard.is_trial(), permit.is_trial());
                            guards.push(guard);
                            permits.push(permit);
                        }
                        (Err(rejection), Decision::Rejected(expected)) => prop_assert_eq!(rejection, expected),
                        (got, expected) => prop_assert!(false, "breaker {:?}, machine {:?}", got.is_ok(), expected),
                    }
                }
                Input::Success(i) | Input::Failure(i) | Input::Release(i) if !guards.is_empty() => {
                    let at = i % guards.len();
                    let (guard, permit) = (guards.swap_remove(at), permits.swap_remove(at));
                    match input {
                        Input::Success(_) => {
                            guard.success();
                            machine.on_success(permit, now);
                        }
                        Input::Failure(_) => {
                            guard.failure();
                            machine.on_failure(permit, now);
                        }
                        _ => {
                            guard.release();
                            machine.release(permit, now);
                        }
                    }
                }
                Input::Success(_) | Input::Failure(_) | Input::Release(_) => {}
                Input::Advance(dt) => clock.advance(Duration::from_nanos(dt)),
                Input::Stats => {}
                Input::ForceOpen => {
                    breaker.force_open();
                    machine.force_open(now);
                }
                Input::ForceClosed => {
                    breaker.force_closed();
                    machine.force_closed(now);
                }
                Input::Reset => {
                    breaker.reset();
                    machine.reset(now);
                }
            }
            let now = clock.now_nanos();
            prop_assert_eq!(breaker.stats(), machine.stats(now));
        }
    }
}

trait Now {
    fn now_nanos(&self) -> u64;
}

impl Now for Arc<ManualClock> {
    fn now_nanos(&self) -> u64 {
        use tripgate_core::Clock;
        self.now()
    }
}

/// Threads race on the fast path and through the lock (failures, releases,
/// stats, transitions and resets): at the end every permit is accounted
/// for, in the breaker's counts and in the threads' own.
#[test]
fn under_threads_every_permit_is_accounted_for() {
    const THREADS: usize = 4;
    const CALLS: u64 = 40_000;
    for tolerance in [u32::MAX, 3] {
        let breaker = Arc::new(
            CircuitBreaker::new(Config {
                failure_tolerance: tolerance,
                reset_timeout: Duration::from_micros(50),
                ..Config::default()
            })
            .unwrap(),
        );
        let barrier = Arc::new(Barrier::new(THREADS));
        let counted = Arc::new([
            AtomicU64::new(0),
            AtomicU64::new(0),
            AtomicU64::new(0),
            AtomicU64::new(0),
        ]);
        let handles: Vec<_> = (0..THREADS)
            .map(|thread| {
                let (breaker, barrier, counted) =
                    (breaker.clone(), barrier.clone(), counted.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    for i in 0..CALLS {
                        match breaker.try_acquire() {
                            Err(_) => {
                                counted[3].fetch_add(1, Ordering::Relaxed);
                            }
                            Ok(guard) => match (i + thread as u64) % 50 {
                                0 => {
                                    guard.failure();
                                    counted[1].fetch_add(1, Ordering::Relaxed);
                                }
                                1 => {
                                    guard.release();
                                    counted[2].fetch_add(1, Ordering::Relaxed);
                                }
                                2 if thread == 0 => {
                                    let _ = breaker.stats();
                                    guard.success();
                                    counted[0].fetch_add(1, Ordering::Relaxed);
                                }
                                3 if thread == 1 && i % 1000 == 3 => {
                                    breaker.reset();
                                    guard.success();
                                    counted[0].fetch_add(1, Ordering::Relaxed);
                                }
                                _ => {
                                    guard.success();
                                    counted[0].fetch_add(1, Ordering::Relaxed);
                                }
                            },
                        }
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
        let stats = breaker.stats();
        let [successes, failures, released, rejections] =
            [0, 1, 2, 3].map(|i| counted[i].load(Ordering::Relaxed));
        assert_eq!(stats.in_flight(), 0, "{stats:?}");
        assert_eq!(
            (
                stats.successes,
                stats.failures,
                stats.released,
                stats.rejections
            ),
            (successes, failures, released, rejections),
            "tolerance {tolerance}"
        );
        assert_eq!(stats.admitted, successes + failures + released);
        if tolerance == u32::MAX {
            assert_eq!(stats.state, State::Closed);
            assert_eq!(rejections, 0);
        }
    }
}
