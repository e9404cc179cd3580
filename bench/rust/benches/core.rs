//! tripgate-core against recloser and failsafe, in one run: the closed-state
//! call (acquire + success), from one thread and from two at once, a
//! counted failure that does not trip, and a rejection while open. See docs/benchmarks.md for figures and the command.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use failsafe::CircuitBreaker as _;
use tripgate_core::{CircuitBreaker, Config, Decision, Machine};

fn never_trips() -> Config {
    Config {
        failure_tolerance: u32::MAX,
        ..Config::default()
    }
}

fn trips_at_once() -> Config {
    Config {
        failure_tolerance: 0,
        reset_timeout: Duration::from_secs(3600),
        ..Config::default()
    }
}

fn machine_call(machine: &mut Machine, now: u64, fail: bool) {
    match machine.try_acquire(now) {
        Decision::Admitted(p) => {
            if fail {
                black_box(machine.on_failure(p, now));
            } else {
                black_box(machine.on_success(p, now));
            }
        }
        Decision::Rejected(r) => {
            black_box(r);
        }
    }
}

fn closed_success(c: &mut Criterion) {
    let mut g = c.benchmark_group("closed_success");
    let mut machine = Machine::new(never_trips(), 0).unwrap();
    let mut now = 0u64;
    g.bench_function("tripgate_machine", |b| {
        b.iter(|| {
            now += 1;
            machine_call(&mut machine, black_box(now), false)
        })
    });
    let breaker = CircuitBreaker::new(never_trips()).unwrap();
    g.bench_function("tripgate_breaker", |b| {
        b.iter(|| black_box(breaker.call(|| Ok::<_, ()>(black_box(1)))))
    });
    let recloser = recloser::Recloser::custom().closed_len(100).build();
    g.bench_function("recloser", |b| {
        b.iter(|| black_box(recloser.call(|| Ok::<_, ()>(black_box(1)))))
    });
    let failsafe = failsafe::Config::new().build();
    g.bench_function("failsafe", |b| {
        b.iter(|| black_box(failsafe.call(|| Ok::<_, ()>(black_box(1)))))
    });
    g.finish();
}

/// `closed_success` as a caller uses the answer: it branches on whether the
/// call went through, so the whole `Result` (24 bytes for tripgate, 8 for
/// recloser) need not be written out, as the row above makes it.
fn closed_success_branching(c: &mut Criterion) {
    let mut g = c.benchmark_group("closed_success_branching");
    let breaker = CircuitBreaker::new(never_trips()).unwrap();
    g.bench_function("tripgate_breaker", |b| {
        b.iter(|| black_box(breaker.call(|| Ok::<_, ()>(black_box(1))).is_ok()))
    });
    let recloser = recloser::Recloser::custom().closed_len(100).build();
    g.bench_function("recloser", |b| {
        b.iter(|| black_box(recloser.call(|| Ok::<_, ()>(black_box(1))).is_ok()))
    });
    let failsafe = failsafe::Config::new().build();
    g.bench_function("failsafe", |b| {
        b.iter(|| black_box(failsafe.call(|| Ok::<_, ()>(black_box(1))).is_ok()))
    });
    g.finish();
}

/// Nanoseconds per call of `call` made `iters` times on each of two
/// threads at once (the machine has 2 cores), over the wall time of both.
fn two_threads(iters: u64, call: impl Fn() + Sync) -> Duration {
    let start = std::time::Instant::now();
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                for _ in 0..iters {
                    call();
                }
            });
        }
    });
    start.elapsed() / 2
}

/// `closed_success` with two threads calling one breaker at once: the
/// figure is wall time per call, so perfect scaling halves it.
fn closed_success_two_threads(c: &mut Criterion) {
    let mut g = c.benchmark_group("closed_success_two_threads");
    let breaker = CircuitBreaker::new(never_trips()).unwrap();
    g.bench_function("tripgate_breaker", |b| {
        b.iter_custom(|iters| {
            two_threads(iters, || {
                black_box(breaker.call(|| Ok::<_, ()>(black_box(1))).is_ok());
            })
        })
    });
    let recloser = recloser::Recloser::custom().closed_len(100).build();
    g.bench_function("recloser", |b| {
        b.iter_custom(|iters| {
            two_threads(iters, || {
                black_box(recloser.call(|| Ok::<_, ()>(black_box(1))).is_ok());
            })
        })
    });
    let failsafe = failsafe::Config::new().build();
    g.bench_function("failsafe", |b| {
        b.iter_custom(|iters| {
            two_threads(iters, || {
                black_box(failsafe.call(|| Ok::<_, ()>(black_box(1))).is_ok());
            })
        })
    });
    g.finish();
}

fn closed_failure(c: &mut Criterion) {
    let mut g = c.benchmark_group("closed_failure");
    let mut machine = Machine::new(never_trips(), 0).unwrap();
    let mut now = 0u64;
    g.bench_function("tripgate_machine", |b| {
        b.iter(|| {
            now += 1;
            machine_call(&mut machine, black_box(now), true)
        })
    });
    let breaker = CircuitBreaker::new(never_trips()).unwrap();
    g.bench_function("tripgate_breaker", |b| {
        b.iter(|| black_box(breaker.call(|| Err::<(), _>(black_box(1)))))
    });
    // recloser computes its rate only once its ring is full: a ring of 10^9
    // calls keeps it counting failures without ever tripping.
    let recloser = recloser::Recloser::custom()
        .error_rate(1.0)
        .closed_len(1_000_000_000)
        .build();
    g.bench_function("recloser", |b| {
        b.iter(|| black_box(recloser.call(|| Err::<(), _>(black_box(1)))))
    });
    let policy = failsafe::failure_policy::consecutive_failures(
        u32::MAX,
        failsafe::backoff::constant(Duration::from_secs(3600)),
    );
    let failsafe = failsafe::Config::new().failure_policy(policy).build();
    g.bench_function("failsafe", |b| {
        b.iter(|| black_box(failsafe.call(|| Err::<(), _>(black_box(1)))))
    });
    g.finish();
}

fn rejection(c: &mut Criterion) {
    let mut g = c.benchmark_group("rejection");
    let mut machine = Machine::new(trips_at_once(), 0).unwrap();
    machine_call(&mut machine, 0, true);
    g.bench_function("tripgate_machine", |b| {
        b.iter(|| machine_call(&mut machine, black_box(1), false))
    });
    let breaker = CircuitBreaker::new(trips_at_once()).unwrap();
    let _ = breaker.call(|| Err::<(), _>(()));
    g.bench_function("tripgate_breaker", |b| {
        b.iter(|| black_box(breaker.call(|| Ok::<_, ()>(black_box(1)))))
    });
    let recloser = recloser::Recloser::custom()
        .closed_len(1)
        .open_wait(Duration::from_secs(3600))
        .build();
    for _ in 0..3 {
        let _ = recloser.call(|| Err::<(), _>(()));
    }
    assert!(matches!(
        recloser.call(|| Ok::<_, ()>(())),
        Err(recloser::Error::Rejected)
    ));
    g.bench_function("recloser", |b| {
        b.iter(|| black_box(recloser.call(|| Ok::<_, ()>(black_box(1)))))
    });
    let policy = failsafe::failure_policy::consecutive_failures(
        1,
        failsafe::backoff::constant(Duration::from_secs(3600)),
    );
    let failsafe = failsafe::Config::new().failure_policy(policy).build();
    let _ = failsafe.call(|| Err::<(), _>(()));
    assert!(matches!(
        failsafe.call(|| Ok::<_, ()>(())),
        Err(failsafe::Error::Rejected)
    ));
    g.bench_function("failsafe", |b| {
        b.iter(|| black_box(failsafe.call(|| Ok::<_, ()>(black_box(1)))))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2)).sample_size(50);
    targets = closed_success, closed_success_branching, closed_success_two_threads, closed_failure, rejection
}
criterion_main!(benches);
