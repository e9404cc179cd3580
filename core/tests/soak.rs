//! A bounded soak of the thread-safe `CircuitBreaker` (issue "Hardening"):
//! random interleavings of calls, failures, held and dropped permits, forced
//! states, a clock that panics, transition listeners that panic, and
//! snapshot/restore, across several breakers. After every step, for every
//! breaker: admitted == successes + failures + released + in_flight, and
//! in_flight is exactly the number of permits the test still holds.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tripgate_core::{
    Backoff, CircuitBreaker, Clock, Config, FailureRate, PermitGuard, Window, MAX_COUNT,
};

#[derive(Default)]
struct World {
    nanos: AtomicU64,
    clock_broken: AtomicBool,
    listener_broken: AtomicBool,
    caught: AtomicUsize,
}

#[derive(Clone)]
struct SoakClock(Arc<World>);

impl Clock for SoakClock {
    fn now(&self) -> u64 {
        if self.0.clock_broken.load(Ordering::Relaxed) {
            panic!("clock broken");
        }
        self.0.nanos.load(Ordering::Relaxed)
    }
}

type Breaker = CircuitBreaker<SoakClock>;

const MS: u64 = 1_000_000;

fn configs() -> Vec<Config> {
    vec![
        Config {
            failure_tolerance: 1,
            reset_timeout: Duration::from_millis(50),
            half_open_max_calls: 2,
            ..Config::default()
        },
        Config {
            failure_tolerance: 3,
            failure_rate: Some(FailureRate {
                threshold: 0.5,
                minimum_calls: 4,
                window: Window::Calls(8),
            }),
            slow_call_duration: Some(Duration::from_millis(30)),
            reset_timeout: Duration::from_millis(40),
            ..Config::default()
        },
        Config {
            failure_tolerance: 0,
            success_threshold: 2,
            trial_timeout: Duration::from_millis(100),
            reset_timeout: Duration::from_millis(20),
            backoff: Some(Backoff {
                multiplier: 2.0,
                max_reset_timeout: Duration::from_millis(200),
                jitter: 0.5,
            }),
            seed: Some(7),
            ..Config::default()
        },
        Config {
            failure_rate: Some(FailureRate {
                threshold: 0.3,
                minimum_calls: 2,
                window: Window::Duration(Duration::from_millis(100)),
            }),
            half_open_max_calls: 3,
            reset_timeout: Duration::from_millis(30),
            ..Config::default()
        },
    ]
}

fn build(
    world: &Arc<World>,
    config: Config,
    snapshot: Option<&tripgate_core::Snapshot>,
) -> &'static Breaker {
    let clock = SoakClock(world.clone());
    let breaker = match snapshot {
        None => CircuitBreaker::with_clock(config, clock).unwrap(),
        Some(s) => CircuitBreaker::restore(config, s, clock).unwrap(),
    };
    let (listening, catching) = (world.clone(), world.clone());
    let breaker = breaker
        .on_transition(move |_| {
            if listening.listener_broken.load(Ordering::Relaxed) {
                panic!("listener bug");
            }
        })
        .on_error(move |_| {
            catching.caught.fetch_add(1, Ordering::Relaxed);
        });
    // Permits borrow their breaker; the soak's breakers live to its end.
    Box::leak(Box::new(breaker))
}

struct Entry {
    breaker: &'static Breaker,
    config: Config,
    permits: Vec<PermitGuard<'static, SoakClock>>,
}

fn check(world: &World, entries: &[Entry], at: &str) {
    let broken = world.clock_broken.swap(false, Ordering::Relaxed);
    for (i, entry) in entries.iter().enumerate() {
        let s = entry.breaker.stats();
        assert_eq!(
            s.admitted,
            s.successes + s.failures + s.released + s.in_flight(),
            "{at}, breaker {i}: {s:?}"
        );
        assert_eq!(
            s.in_flight(),
            entry.permits.len() as u64,
            "{at}, breaker {i}: {s:?}"
        );
        assert!(s.admitted <= MAX_COUNT);
    }
    world.clock_broken.store(broken, Ordering::Relaxed);
}

#[test]
fn soak_random_interleavings_keep_the_books() {
    let seed = std::env::var("TRIPGATE_SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(tripgate_core::random_seed);
    let mut state = seed | 1;
    let mut next = |n: u64| {
        // xorshift64*
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    };
    // The panics this soak causes are caught by design; their messages would drown the output.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let world = Arc::new(World::default());
    let configs = configs();
    let mut entries: Vec<Entry> = configs
        .iter()
        .map(|c| Entry {
            breaker: build(&world, c.clone(), None),
            config: c.clone(),
            permits: Vec::new(),
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut steps = 0u64;
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        while Instant::now() < deadline && steps < 50_000 {
            let newest = entries.len().min(8) as u64;
            let pick = entries.len() - 1 - next(newest) as usize;
            let (kind, b) = (next(16), next(61));
            let entry = &mut entries[pick];
            let breaker = entry.breaker;
            // Anything may panic while the clock is broken, but only the clock's panic.
            // A restore's new breaker comes out of the step.
            let step = catch_unwind(AssertUnwindSafe(|| -> Option<Entry> {
                match kind {
                    0 => {
                        world.nanos.fetch_add(b * MS, Ordering::Relaxed);
                    }
                    1 => world.clock_broken.store(b % 4 == 0, Ordering::Relaxed),
                    2 => world.listener_broken.store(b % 3 == 0, Ordering::Relaxed),
                    3 | 4 | 11 | 12 | 13 | 14 => {
                        let _ = breaker.call(|| if b % 2 == 0 { Ok(b) } else { Err("down") });
                    }
                    5 | 9 => {
                        if let Ok(permit) = breaker.try_acquire() {
                            entry.permits.push(permit);
                        }
                    }
                    6 | 7 | 10 => {
                        if !entry.permits.is_empty() {
                            let permit = entry.permits.remove(0);
                            match b % 4 {
                                0 => permit.success(),
                                1 => permit.failure(),
                                2 => permit.release(),
                                _ => drop(permit),
                            }
                        }
                    }
                    8 => match b % 3 {
                        0 => breaker.force_open(),
                        1 => breaker.force_closed(),
                        _ => breaker.reset(),
                    },
                    _ => {
                        let snapshot = breaker.snapshot();
                        return Some(Entry {
                            breaker: build(&world, entry.config.clone(), Some(&snapshot)),
                            config: entry.config.clone(),
                            permits: Vec::new(),
                        });
                    }
                }
                None
            }));
            if let Ok(Some(restored)) = step {
                entries.push(restored);
            } else if step.is_err() {
                assert!(
                    world.clock_broken.load(Ordering::Relaxed),
                    "step {steps} (kind {kind}) panicked with a working clock"
                );
            }
            if steps % 10 == 0 {
                check(&world, &entries, &format!("step {steps}"));
            }
            steps += 1;
        }
        world.clock_broken.store(false, Ordering::Relaxed);
        for entry in &mut entries {
            entry.permits.clear();
        }
        check(&world, &entries, "after draining");
    }));
    std::panic::set_hook(hook);
    if let Err(panic) = outcome {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        panic!("soak seed {seed} (rerun with TRIPGATE_SOAK_SEED={seed}): {message}");
    }
    println!(
        "soak: {steps} steps over {} breakers, {} panics caught by the breakers (seed {seed})",
        entries.len(),
        world.caught.load(Ordering::Relaxed)
    );
    assert!(steps > 500);
}
