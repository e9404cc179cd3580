//! The thread-safe `CircuitBreaker`: concurrency, locking and call wrappers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

use tripgate_core::{CallError, CircuitBreaker, Config, ManualClock, Outcome, State};

fn opened_breaker(config: Config) -> (Arc<CircuitBreaker<Arc<ManualClock>>>, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(0));
    let breaker = CircuitBreaker::with_clock(
        Config {
            failure_tolerance: 0,
            ..config
        },
        clock.clone(),
    )
    .unwrap();
    let _ = breaker.call(|| Err::<(), _>("boom"));
    assert_eq!(breaker.state(), State::Open);
    (Arc::new(breaker), clock)
}

#[test]
fn many_threads_in_half_open_get_exactly_the_configured_trials() {
    const THREADS: usize = 16;
    const TRIES: usize = 2_000;
    let (breaker, clock) = opened_breaker(Config {
        half_open_max_calls: 3,
        reset_timeout: Duration::from_secs(1),
        trial_timeout: Duration::from_secs(3600),
        ..Config::default()
    });
    clock.advance(Duration::from_secs(1));
    let barrier = Arc::new(Barrier::new(THREADS));
    let admitted = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let (breaker, barrier, admitted) = (breaker.clone(), barrier.clone(), admitted.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let mut held = Vec::new();
                for _ in 0..TRIES {
                    if let Ok(guard) = breaker.try_acquire() {
                        assert!(guard.is_trial());
                        admitted.fetch_add(1, Ordering::SeqCst);
                        held.push(guard);
                    }
                }
                // Keep the trials until every thread has tried.
                barrier.wait();
                held.into_iter().for_each(|g| g.success());
            })
        })
        .collect();
    handles.into_iter().for_each(|h| h.join().unwrap());
    assert_eq!(admitted.load(Ordering::SeqCst), 3);
    let stats = breaker.stats();
    assert_eq!(stats.state, State::Closed);
    assert_eq!(stats.admitted, 1 + 3);
    assert_eq!(stats.rejections, (THREADS * TRIES - 3) as u64);
    assert_eq!(stats.successes, 3);
    assert_eq!(
        stats.stale_outcomes, 2,
        "the two trials reported after the first closed the breaker"
    );
    assert_eq!(stats.in_flight(), 0);
}

#[test]
fn hammering_a_closed_breaker_from_many_threads_keeps_counts_consistent() {
    let clock = Arc::new(ManualClock::new(0));
    let breaker = Arc::new(
        CircuitBreaker::with_clock(
            Config {
                failure_tolerance: 1_000_000,
                ..Config::default()
            },
            clock,
        )
        .unwrap(),
    );
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let breaker = breaker.clone();
            std::thread::spawn(move || {
                for i in 0..5_000 {
                    let _ = breaker.call(|| if (i + t) % 3 == 0 { Err(()) } else { Ok(()) });
                }
            })
        })
        .collect();
    handles.into_iter().for_each(|h| h.join().unwrap());
    let stats = breaker.stats();
    assert_eq!(stats.admitted, 40_000);
    assert_eq!(stats.successes + stats.failures, 40_000);
    assert_eq!(stats.in_flight(), 0);
}

#[test]
fn no_lock_is_held_while_the_protected_call_runs() {
    let breaker =
        Arc::new(CircuitBreaker::with_clock(Config::default(), ManualClock::new(0)).unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    let inner = breaker.clone();
    std::thread::spawn(move || {
        let result = inner.call(|| {
            // Re-entering the breaker from inside the call would deadlock if
            // the call ran under the lock.
            Ok::<_, ()>((inner.state(), inner.stats().in_flight()))
        });
        tx.send(result).unwrap();
    });
    let result = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the call deadlocked on the breaker's lock");
    assert_eq!(result, Ok((State::Closed, 1)));
}

#[test]
fn listener_sees_every_transition_and_may_use_the_breaker() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let clock = Arc::new(ManualClock::new(0));
    let breaker = Arc::new(Mutex::new(None::<Arc<CircuitBreaker<Arc<ManualClock>>>>));
    let (seen2, breaker2) = (seen.clone(), breaker.clone());
    let b = Arc::new(
        CircuitBreaker::with_clock(
            Config {
                failure_tolerance: 0,
                reset_timeout: Duration::from_millis(10),
                ..Config::default()
            },
            clock.clone(),
        )
        .unwrap()
        .on_transition(move |t| {
            // The lock is released before listeners run.
            let state = breaker2.lock().unwrap().as_ref().map(|b| b.state());
            seen2
                .lock()
                .unwrap()
                .push((t.from, t.to, t.reason.name(), state));
        }),
    );
    *breaker.lock().unwrap() = Some(b.clone());
    let _ = b.call(|| Err::<(), _>(()));
    clock.advance(Duration::from_millis(10));
    let _ = b.call(|| Ok::<_, ()>(()));
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![
            (
                State::Closed,
                State::Open,
                "failure_tolerance_exceeded",
                Some(State::Open)
            ),
            (
                State::Open,
                State::HalfOpen,
                "reset_timeout_elapsed",
                Some(State::HalfOpen)
            ),
            (
                State::HalfOpen,
                State::Closed,
                "trial_succeeded",
                Some(State::Closed)
            ),
        ]
    );
    *breaker.lock().unwrap() = None;
}

#[test]
fn call_with_classifies_outcomes() {
    let breaker = CircuitBreaker::with_clock(
        Config {
            failure_tolerance: 0,
            ..Config::default()
        },
        ManualClock::new(0),
    )
    .unwrap();
    let not_found: Result<(), CallError<&str>> =
        breaker.call_with(|| Err("not found"), |_| Outcome::Released);
    assert_eq!(not_found, Err(CallError::Failed("not found")));
    assert_eq!(breaker.state(), State::Closed);
    assert_eq!(breaker.stats().released, 1);
    let bad_answer = breaker.call_with(
        || Ok::<_, ()>(500),
        |r| {
            if r == &Ok(500) {
                Outcome::Failure
            } else {
                Outcome::Success
            }
        },
    );
    assert_eq!(bad_answer, Ok(500));
    assert_eq!(breaker.state(), State::Open);
}

#[test]
fn a_panicking_call_releases_its_permit() {
    let breaker = CircuitBreaker::with_clock(
        Config {
            failure_tolerance: 0,
            ..Config::default()
        },
        ManualClock::new(0),
    )
    .unwrap();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = breaker.call(|| -> Result<(), ()> { panic!("bug in the protected call") });
    }));
    assert!(result.is_err());
    let stats = breaker.stats();
    assert_eq!(
        (stats.state, stats.released, stats.in_flight()),
        (State::Closed, 1, 0)
    );
}

#[test]
fn rejection_error_displays_its_retry_time() {
    let (breaker, _clock) = opened_breaker(Config {
        reset_timeout: Duration::from_secs(2),
        ..Config::default()
    });
    let err = breaker.call(|| Ok::<_, std::io::Error>(())).unwrap_err();
    assert_eq!(err.to_string(), "circuit breaker is open; retry after 2s");
    breaker.force_open();
    let err = breaker.call(|| Ok::<_, std::io::Error>(())).unwrap_err();
    assert_eq!(err.to_string(), "circuit breaker is forced_open");
}

#[test]
fn snapshot_moves_a_breaker_between_clocks() {
    let (breaker, _clock) = opened_breaker(Config {
        reset_timeout: Duration::from_secs(30),
        ..Config::default()
    });
    let snapshot = breaker.snapshot();
    let later = Arc::new(ManualClock::new(5_000_000_000_000));
    let moved = CircuitBreaker::restore(
        Config {
            failure_tolerance: 0,
            reset_timeout: Duration::from_secs(30),
            ..Config::default()
        },
        &snapshot,
        later.clone(),
    )
    .unwrap();
    assert_eq!(moved.state(), State::Open);
    assert_eq!(moved.retry_after(), Some(Duration::from_secs(30)));
    later.advance(Duration::from_secs(30));
    assert_eq!(moved.state(), State::HalfOpen);
}

#[test]
fn unseeded_breakers_jitter_differently() {
    let config = Config {
        failure_tolerance: 0,
        backoff: Some(tripgate_core::Backoff {
            multiplier: 1.0,
            max_reset_timeout: Duration::from_secs(30),
            jitter: 1.0,
        }),
        ..Config::default()
    };
    let durations: std::collections::HashSet<_> = (0..8)
        .map(|_| {
            let breaker = CircuitBreaker::with_clock(config.clone(), ManualClock::new(0)).unwrap();
            let _ = breaker.call(|| Err::<(), _>(()));
            breaker.retry_after()
        })
        .collect();
    assert!(
        durations.len() > 1,
        "eight random seeds gave one duration: {durations:?}"
    );
}
