//! Every interleaving (within a preemption bound) of calls on the lock-free
//! path with operations that take the lock: a failure that opens the
//! breaker, a reset that starts a new generation, plain successes. After
//! each, the machine's books balance (every permit admitted is reported),
//! no input is lost or counted twice, and a success from an earlier
//! generation counts as stale. The breaker here is the thread-safe one's
//! protocol in miniature: lock, fold the fast path, act, arm it again.

use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::{Arc, Mutex};
use loom::thread;
use tripgate_core::{Config, Decision, Machine, Permit, State, Stats};
use tripgate_loom::FastPath;

struct Breaker {
    machine: Mutex<Machine>,
    fast: FastPath,
}

impl Breaker {
    fn new(failure_tolerance: u32) -> Arc<Breaker> {
        let config = Config {
            failure_tolerance,
            seed: Some(1),
            ..Config::default()
        };
        let machine = Machine::new(config, 0).unwrap();
        let fast = FastPath::new();
        fast.arm(&machine);
        Arc::new(Breaker {
            machine: Mutex::new(machine),
            fast,
        })
    }

    fn locked<R>(&self, f: impl FnOnce(&mut Machine, u64) -> R) -> R {
        let mut machine = self.machine.lock().unwrap();
        self.fast.fold(&mut machine);
        let now = machine.latest_time();
        let result = f(&mut machine, now);
        self.fast.arm(&machine);
        result
    }

    fn acquire(&self) -> Option<Permit> {
        self.fast.acquire().or_else(|| {
            self.locked(|m, now| match m.try_acquire(now) {
                Decision::Admitted(permit) => Some(permit),
                Decision::Rejected(_) => None,
            })
        })
    }

    fn success(&self, permit: Permit) {
        if !self.fast.success(&permit) {
            self.locked(|m, now| m.on_success(permit, now));
        }
    }

    fn failure(&self, permit: Permit) {
        self.locked(|m, now| m.on_failure(permit, now));
    }

    fn stats(&self) -> Stats {
        self.locked(|m, now| m.stats(now))
    }
}

fn model(test: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(test);
}

fn balanced(stats: &Stats) {
    assert_eq!(stats.in_flight(), 0, "{stats:?}");
    assert_eq!(
        stats.admitted,
        stats.successes + stats.failures + stats.released,
        "{stats:?}"
    );
}

#[test]
fn two_fast_calls_are_both_counted() {
    model(|| {
        let breaker = Breaker::new(5);
        let other = breaker.clone();
        let thread = thread::spawn(move || {
            let permit = other.acquire().expect("closed");
            other.success(permit);
        });
        let permit = breaker.acquire().expect("closed");
        breaker.success(permit);
        thread.join().unwrap();
        let stats = breaker.stats();
        balanced(&stats);
        assert_eq!(
            (stats.admitted, stats.successes, stats.stale_outcomes),
            (2, 2, 0)
        );
    });
}

#[test]
fn a_fast_call_racing_a_failure_that_opens() {
    model(|| {
        let breaker = Breaker::new(0);
        let other = breaker.clone();
        let thread = thread::spawn(move || {
            if let Some(permit) = other.acquire() {
                other.success(permit);
            }
        });
        let permit = breaker.acquire().expect("nothing can open it before this");
        breaker.failure(permit);
        thread.join().unwrap();
        let stats = breaker.stats();
        balanced(&stats);
        assert_eq!(stats.state, State::Open);
        assert_eq!(stats.failures, 1);
        // The other call was admitted (and its success counted, stale if it
        // came after the breaker opened) or rejected: never both, never lost.
        assert_eq!(stats.admitted + stats.rejections, 2, "{stats:?}");
        assert_eq!(stats.successes, stats.admitted - 1);
    });
}

#[test]
fn a_fast_call_racing_a_reset() {
    model(|| {
        let breaker = Breaker::new(5);
        let reset_done = Arc::new(AtomicBool::new(false));
        let (other, done) = (breaker.clone(), reset_done.clone());
        let thread = thread::spawn(move || {
            let permit = other.acquire().expect("closed");
            let generation = permit.generation();
            let reset_before_report = done.load(Ordering::SeqCst);
            other.success(permit);
            (generation, reset_before_report)
        });
        breaker.locked(|m, now| m.reset(now));
        reset_done.store(true, Ordering::SeqCst);
        let (generation, reset_before_report) = thread.join().unwrap();
        let stats = breaker.stats();
        balanced(&stats);
        assert_eq!(
            (stats.admitted, stats.successes, stats.generation),
            (1, 1, 1)
        );
        // Issued after the reset: current. Issued before it and reported
        // once it was done: stale. (In between, either.)
        if generation == 1 {
            assert_eq!(stats.stale_outcomes, 0, "{stats:?}");
        } else if reset_before_report {
            assert_eq!(stats.stale_outcomes, 1, "{stats:?}");
        }
    });
}
