//! Failure paths of the thread-safe `CircuitBreaker` and the machine's
//! bookkeeping limits (issue "Hardening"): a panicking clock or listener
//! never loses a permit, the manual clock and the counters saturate, and a
//! snapshot holds no number that another language cannot.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tripgate_core::{
    CallError, CircuitBreaker, Clock, Config, Decision, Machine, ManualClock, PanicSource, Permit,
    RestoreError, Snapshot, State, Stats, MAX_COUNT,
};

/// A clock that panics while `failing` is set.
#[derive(Default)]
struct FlakyClock {
    nanos: AtomicU64,
    failing: AtomicBool,
}

impl Clock for FlakyClock {
    fn now(&self) -> u64 {
        if self.failing.load(Ordering::SeqCst) {
            panic!("the clock is broken");
        }
        self.nanos.load(Ordering::SeqCst)
    }
}

fn assert_books_balance(stats: &Stats) {
    assert_eq!(
        stats.admitted,
        stats.successes + stats.failures + stats.released + stats.in_flight(),
        "{stats:?}"
    );
}

/// The panics a breaker's `on_error` listener was given.
type Caught = Arc<Mutex<Vec<(PanicSource, String)>>>;

/// A breaker on a flaky clock whose caught panics are recorded.
fn flaky_breaker(config: Config) -> (CircuitBreaker<Arc<FlakyClock>>, Arc<FlakyClock>, Caught) {
    let clock = Arc::new(FlakyClock::default());
    let caught = Arc::new(Mutex::new(Vec::new()));
    let sink = caught.clone();
    let breaker = CircuitBreaker::with_clock(config, clock.clone())
        .unwrap()
        .on_error(move |panic| {
            sink.lock()
                .unwrap()
                .push((panic.source, panic.message().unwrap_or("?").to_owned()))
        });
    (breaker, clock, caught)
}

#[test]
fn a_clock_panicking_while_a_call_is_reported_keeps_the_result_and_the_permit() {
    let config = Config {
        failure_tolerance: 0,
        reset_timeout: Duration::from_secs(1),
        ..Config::default()
    };
    let (breaker, clock, caught) = flaky_breaker(config);
    // A half-open trial: the clock is read when it is reported.
    breaker.force_open();
    breaker.reset();
    let _ = breaker.call(|| Err::<(), _>("down"));
    clock.nanos.store(2_000_000_000, Ordering::SeqCst);
    assert_eq!(breaker.state(), State::HalfOpen);
    let result = breaker.call(|| {
        clock.failing.store(true, Ordering::SeqCst);
        Ok::<_, ()>(42)
    });
    assert_eq!(result, Ok(42), "the caller gets the call's own result");
    clock.failing.store(false, Ordering::SeqCst);
    let stats = breaker.stats();
    assert_eq!(stats.in_flight(), 0);
    assert_eq!(stats.trials_in_flight, 0);
    assert_eq!(
        stats.state,
        State::Closed,
        "the trial's success was recorded"
    );
    assert_books_balance(&stats);
    assert_eq!(
        *caught.lock().unwrap(),
        [(PanicSource::Clock, "the clock is broken".to_owned())]
    );

    // A failure always reads the clock: it is recorded at the latest time.
    let result = breaker.call(|| {
        clock.failing.store(true, Ordering::SeqCst);
        Err::<(), _>("down")
    });
    assert_eq!(result, Err(CallError::Failed("down")));
    clock.failing.store(false, Ordering::SeqCst);
    let stats = breaker.stats();
    assert_eq!((stats.state, stats.in_flight()), (State::Open, 0));
    assert_eq!(stats.last_transition_at, Some(2_000_000_000));
    assert_books_balance(&stats);
}

#[test]
fn a_guard_dropped_while_the_clock_panics_still_releases_its_permit() {
    let (breaker, clock, caught) = flaky_breaker(Config {
        slow_call_duration: Some(Duration::from_secs(1)),
        ..Config::default()
    });
    let guard = breaker.try_acquire().unwrap();
    clock.failing.store(true, Ordering::SeqCst);
    drop(guard);
    clock.failing.store(false, Ordering::SeqCst);
    let stats = breaker.stats();
    assert_eq!((stats.released, stats.in_flight()), (1, 0));
    assert_eq!(caught.lock().unwrap().len(), 1);
}

#[test]
fn a_clock_panicking_on_acquire_admits_nothing_and_leaves_the_breaker_usable() {
    let (breaker, clock, _) = flaky_breaker(Config {
        slow_call_duration: Some(Duration::from_secs(1)),
        ..Config::default()
    });
    clock.failing.store(true, Ordering::SeqCst);
    let ran = AtomicBool::new(false);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        breaker.call(|| {
            ran.store(true, Ordering::SeqCst);
            Ok::<_, ()>(())
        })
    }));
    assert!(outcome.is_err(), "the clock's panic reaches the caller");
    assert!(!ran.load(Ordering::SeqCst), "the call was not made");
    clock.failing.store(false, Ordering::SeqCst);
    let stats = breaker.stats();
    assert_eq!((stats.admitted, stats.in_flight()), (0, 0));
    assert_eq!(breaker.call(|| Ok::<_, ()>(1)), Ok(1));
}

#[test]
fn a_panicking_transition_listener_never_drops_the_admitted_permit() {
    let clock = Arc::new(ManualClock::new(0));
    let heard = Arc::new(AtomicUsize::new(0));
    let caught = Arc::new(AtomicUsize::new(0));
    let (h, c) = (heard.clone(), caught.clone());
    let breaker = CircuitBreaker::with_clock(
        Config {
            failure_tolerance: 0,
            reset_timeout: Duration::from_secs(1),
            ..Config::default()
        },
        clock.clone(),
    )
    .unwrap()
    .on_transition(move |_| {
        h.fetch_add(1, Ordering::SeqCst);
        panic!("listener bug");
    })
    .on_error(move |panic| {
        assert_eq!(panic.source, PanicSource::TransitionListener);
        assert_eq!(panic.message(), Some("listener bug"));
        c.fetch_add(1, Ordering::SeqCst);
    });
    assert_eq!(
        breaker.call(|| Err::<(), _>("down")),
        Err(CallError::Failed("down"))
    );
    clock.advance(Duration::from_secs(1));
    // This acquire moves the breaker to half-open: the listener panics while
    // the trial's permit is being handed out.
    assert_eq!(breaker.call(|| Ok::<_, ()>(7)), Ok(7));
    let stats = breaker.stats();
    assert_eq!(stats.state, State::Closed);
    assert_eq!((stats.in_flight(), stats.trials_in_flight), (0, 0));
    assert_books_balance(&stats);
    // closed→open, open→half_open, half_open→closed: each heard and caught.
    assert_eq!(heard.load(Ordering::SeqCst), 3);
    assert_eq!(caught.load(Ordering::SeqCst), 3);
}

#[test]
fn the_manual_clock_saturates_instead_of_wrapping() {
    let clock = ManualClock::new(5);
    clock.advance(Duration::MAX);
    assert_eq!(clock.now(), u64::MAX);
    clock.advance(Duration::from_secs(1));
    assert_eq!(clock.now(), u64::MAX);
}

fn snapshot_with(edit: impl FnOnce(&mut Snapshot)) -> Snapshot {
    let mut snapshot = Machine::new(Config::default(), 0).unwrap().snapshot(0);
    edit(&mut snapshot);
    snapshot
}

fn refused_field(snapshot: &Snapshot) -> Option<&'static str> {
    match Machine::restore(Config::default(), snapshot, 0) {
        Ok(_) => None,
        Err(RestoreError::Snapshot { field, .. }) => Some(field.name()),
        Err(other) => panic!("{other:?}"),
    }
}

#[test]
fn restore_refuses_generations_and_counters_above_2_53() {
    assert_eq!(MAX_COUNT, 9_007_199_254_740_991);
    assert_eq!(
        refused_field(&snapshot_with(|s| s.generation = MAX_COUNT)),
        None
    );
    assert_eq!(
        refused_field(&snapshot_with(|s| s.generation = MAX_COUNT + 1)),
        Some("generation")
    );
    assert_eq!(
        refused_field(&snapshot_with(|s| s.generation = u64::MAX)),
        Some("generation")
    );
    type Counter = fn(&mut Snapshot) -> &mut u64;
    let counters: [(&str, Counter); 8] = [
        ("counters.admitted", |s| &mut s.counters.admitted),
        ("counters.successes", |s| &mut s.counters.successes),
        ("counters.failures", |s| &mut s.counters.failures),
        ("counters.slow_calls", |s| &mut s.counters.slow_calls),
        ("counters.rejections", |s| &mut s.counters.rejections),
        ("counters.released", |s| &mut s.counters.released),
        ("counters.stale_outcomes", |s| {
            &mut s.counters.stale_outcomes
        }),
        ("counters.trial_timeouts", |s| {
            &mut s.counters.trial_timeouts
        }),
    ];
    for (field, counter) in counters {
        let snapshot = snapshot_with(|s| {
            s.counters.admitted = MAX_COUNT;
            *counter(s) = u64::MAX - 1;
        });
        assert_eq!(refused_field(&snapshot), Some(field));
    }
}

#[test]
fn counters_and_generations_saturate_at_2_53_and_every_snapshot_restores() {
    let config = Config {
        failure_tolerance: 0,
        ..Config::default()
    };
    let full = snapshot_with(|s| {
        s.generation = MAX_COUNT;
        s.counters.admitted = MAX_COUNT;
        s.counters.successes = MAX_COUNT - 2;
        s.counters.rejections = MAX_COUNT;
        s.counters.stale_outcomes = MAX_COUNT;
    });
    let mut machine = Machine::restore(config.clone(), &full, 0).unwrap();
    for now in 1..5 {
        match machine.try_acquire(now) {
            Decision::Admitted(permit) => {
                let _ = machine.on_failure(permit, now);
            }
            Decision::Rejected(_) => machine.reset(now),
        }
    }
    let stats = machine.stats(10);
    assert_eq!(stats.generation, MAX_COUNT);
    assert_eq!(stats.admitted, MAX_COUNT);
    assert_eq!(stats.rejections, MAX_COUNT);
    let written = machine.snapshot(10);
    Machine::restore(config, &written, 0).expect("a snapshot the machine wrote restores");
}

#[test]
fn a_permit_from_another_machine_is_stale_and_never_underflows_in_flight() {
    let mut other = Machine::new(Config::default(), 0).unwrap();
    let Decision::Admitted(foreign) = other.try_acquire(0) else {
        unreachable!()
    };
    let (generation, acquired_at, _) = foreign.into_raw();
    let mut machine = Machine::new(Config::default(), 0).unwrap();
    // Same generation, not a trial: indistinguishable, counted; a trial id
    // this machine never issued: stale.
    let _ = machine.on_success(Permit::from_raw(generation, acquired_at, 0), 1);
    let report = machine.on_failure(Permit::from_raw(generation, acquired_at, 99), 1);
    assert!(report.stale);
    let stats = machine.stats(1);
    assert_eq!(stats.in_flight(), 0);
    assert_eq!((stats.successes, stats.failures, stats.admitted), (1, 1, 0));
}

#[test]
fn a_transition_caused_by_the_listener_waits_for_the_listener_to_return() {
    use std::sync::OnceLock;
    let slot: Arc<OnceLock<Arc<CircuitBreaker<ManualClock>>>> = Arc::new(OnceLock::new());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let depth = Arc::new(AtomicUsize::new(0));
    let (s, sn, d) = (slot.clone(), seen.clone(), depth.clone());
    let breaker = CircuitBreaker::with_clock(Config::default(), ManualClock::new(0))
        .unwrap()
        .on_transition(move |t| {
            let nested = d.fetch_add(1, Ordering::SeqCst);
            sn.lock().unwrap().push((nested, t.from, t.to));
            if t.to == State::ForcedOpen {
                s.get().unwrap().reset(); // causes forced_open → closed
            }
            d.fetch_sub(1, Ordering::SeqCst);
        });
    let breaker = Arc::new(breaker);
    let _ = slot.set(breaker.clone());
    breaker.force_open();
    assert_eq!(
        *seen.lock().unwrap(),
        [
            (0, State::Closed, State::ForcedOpen),
            (0, State::ForcedOpen, State::Closed)
        ],
        "each transition heard in order, the listener never re-entered"
    );
    assert_eq!(breaker.state(), State::Closed);
}
