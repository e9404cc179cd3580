//! A breaker in front of a simulated flaky dependency, in simulated time:
//! healthy, then failing, then hanging, then recovered. Prints every
//! transition with its reason, then compares the run with the same client
//! running without a breaker (a breaker forced closed admits every call).
//!
//! Run with `make demo` or `cargo run -p tripgate-examples --bin simulated_outage`.

use std::sync::Arc;
use std::time::Duration;

use tripgate_core::{
    Backoff, CircuitBreaker, Clock, Config, FailureRate, ManualClock, Stats, Window,
};

const SECOND: u64 = 1_000_000_000;
const INCIDENT: u64 = 50 * SECOND;
const CALL_EVERY: u64 = SECOND / 4;

/// What the dependency does at a given second of the incident: how long a
/// call takes, and whether it succeeds.
fn dependency_at(second: u64) -> (&'static str, Duration, bool) {
    match second {
        0..=9 => ("healthy", Duration::from_millis(20), true),
        10..=24 => ("failing with 503s", Duration::from_millis(5), false),
        25..=34 => ("hanging", Duration::from_secs(3), true),
        _ => ("recovered", Duration::from_millis(20), true),
    }
}

struct Run {
    stats: Stats,
    reached: u64,
    waited: Duration,
}

/// One client calling every 250 ms; a call that hangs holds it past the next ticks.
fn simulate(with_breaker: bool, verbose: bool) -> Run {
    let clock = Arc::new(ManualClock::new(0));
    let config = Config {
        failure_tolerance: 4,
        failure_rate: Some(FailureRate {
            threshold: 0.5,
            minimum_calls: 10,
            window: Window::Duration(Duration::from_secs(10)),
        }),
        slow_call_duration: Some(Duration::from_secs(1)),
        reset_timeout: Duration::from_secs(2),
        backoff: Some(Backoff {
            multiplier: 2.0,
            max_reset_timeout: Duration::from_secs(8),
            jitter: 0.1,
        }),
        seed: Some(2024),
        ..Config::default()
    };
    let breaker = CircuitBreaker::with_clock(config, clock.clone())
        .expect("valid config")
        .on_transition(move |t| {
            if verbose {
                println!(
                    "  {:>6.2}s  {:<13} -> {:<13} {}",
                    t.at as f64 / 1e9,
                    t.from.name(),
                    t.to.name(),
                    t.reason
                );
            }
        });
    if !with_breaker {
        breaker.force_closed();
    }
    let (mut reached, mut waited, mut phase) = (0, Duration::ZERO, "");
    while clock.now() < INCIDENT {
        // The next tick the client is free for.
        clock.set(clock.now().div_ceil(CALL_EVERY) * CALL_EVERY);
        let (name, takes, succeeds) = dependency_at(clock.now() / SECOND);
        if verbose && name != phase {
            println!(
                "  {:>6.2}s  -- the dependency is {name} --",
                clock.now() as f64 / 1e9
            );
            phase = name;
        }
        // A rejected call returns at once: no time is spent on the dependency.
        let before = clock.now();
        let _ = breaker.call(|| {
            reached += 1;
            clock.advance(takes);
            waited += takes;
            if succeeds {
                Ok(())
            } else {
                Err("503 Service Unavailable")
            }
        });
        if clock.now() == before {
            // Rejected: the client is free again at the next tick.
            clock.advance(Duration::from_nanos(1));
        }
    }
    Run {
        stats: breaker.stats(),
        reached,
        waited,
    }
}

fn main() {
    println!(
        "tripgate demo: a client calls a flaky dependency every 250 ms for 50 s (simulated time)\n"
    );
    println!("      time  transition");
    let with = simulate(true, true);
    let without = simulate(false, false);
    println!("\n  {:<40} {:>14} {:>14}", "", "with breaker", "without");
    let rows = [
        (
            "calls attempted",
            with.reached + with.stats.rejections,
            without.reached,
        ),
        (
            "calls that reached the dependency",
            with.reached,
            without.reached,
        ),
        (
            "calls rejected without being made",
            with.stats.rejections,
            0,
        ),
        (
            "failed or slow calls made",
            with.stats.failures + with.stats.slow_calls,
            without.stats.failures + without.stats.slow_calls,
        ),
    ];
    for (what, a, b) in rows {
        println!("  {what:<40} {a:>14} {b:>14}");
    }
    println!(
        "  {:<40} {:>12.1} s {:>12.1} s",
        "time spent waiting on the dependency",
        with.waited.as_secs_f64(),
        without.waited.as_secs_f64()
    );
    println!("\n  final state: {}", with.stats.state);
    assert_eq!(
        with.stats.state.name(),
        "closed",
        "the breaker closes again after recovery"
    );
}
