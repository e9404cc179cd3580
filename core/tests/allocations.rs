//! The hot paths allocate nothing: a counting global allocator watches a
//! closed call, a counted failure and a rejection. It counts only the
//! allocations of the thread under test (the test harness's own threads
//! allocate when they please).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

use tripgate_core::{CircuitBreaker, Config, Decision, Machine, ManualClock};

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.try_with(Cell::get).unwrap_or(false) {
            let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCATIONS.with(Cell::get) - before
}

#[test]
fn hot_paths_allocate_nothing() {
    let mut machine = Machine::new(
        Config {
            failure_tolerance: 1_000_000,
            ..Config::default()
        },
        0,
    )
    .unwrap();
    let closed = allocations_during(|| {
        for t in 0..10_000 {
            if let Decision::Admitted(p) = machine.try_acquire(t) {
                if t % 2 == 0 {
                    machine.on_success(p, t);
                } else {
                    machine.on_failure(p, t);
                }
            }
        }
    });
    assert_eq!(closed, 0, "closed calls allocated");

    let mut open = Machine::new(
        Config {
            failure_tolerance: 0,
            reset_timeout: Duration::from_secs(60),
            ..Config::default()
        },
        0,
    )
    .unwrap();
    if let Decision::Admitted(p) = open.try_acquire(0) {
        open.on_failure(p, 0);
    }
    let rejections = allocations_during(|| {
        for t in 0..10_000 {
            assert!(matches!(open.try_acquire(t), Decision::Rejected(_)));
        }
    });
    assert_eq!(rejections, 0, "rejections allocated");

    let breaker = CircuitBreaker::with_clock(
        Config {
            failure_tolerance: 0,
            ..Config::default()
        },
        ManualClock::new(0),
    )
    .unwrap();
    let _ = breaker.call(|| Err::<(), _>(()));
    let wrapped = allocations_during(|| {
        for _ in 0..10_000 {
            assert!(breaker.call(|| Ok::<_, ()>(())).is_err());
        }
    });
    assert_eq!(wrapped, 0, "CircuitBreaker rejections allocated");
}

#[test]
fn the_counter_sees_allocations_on_its_thread() {
    assert!(allocations_during(|| drop(std::hint::black_box(vec![1u8; 64]))) >= 1);
}
