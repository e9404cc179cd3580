//! Memory per idle breaker in Rust (issue "Smaller and faster", "Also
//! measure"): bytes for 10,000 machines and 10,000 thread-safe breakers, with
//! default options and with a 1,000-call failure-rate window, counted by a
//! global allocator (heap) plus the values themselves. Run with
//! `cargo run --release -p tripgate-bench --example memory`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use tripgate_core::{CircuitBreaker, Config, FailureRate, Machine, Window};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator, counting the bytes it holds.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const COUNT: usize = 10_000;

/// Bytes per value of `make()`, each boxed as a caller holding many would.
fn per_value<T>(make: impl Fn() -> T) -> usize {
    let before = LIVE.load(Ordering::Relaxed);
    let held: Vec<Box<T>> = (0..COUNT).map(|_| Box::new(make())).collect();
    let bytes = LIVE.load(Ordering::Relaxed) - before - held.capacity() * size_of::<Box<T>>();
    drop(held);
    bytes / COUNT
}

fn main() {
    let window = || Config {
        failure_rate: Some(FailureRate {
            threshold: 0.5,
            minimum_calls: 10,
            window: Window::Calls(1_000),
        }),
        ..Config::default()
    };
    for (name, config) in [
        ("default options", Config::default()),
        ("1,000-call window", window()),
    ] {
        let machine = per_value(|| Machine::new(config.clone(), 0).unwrap());
        let breaker = per_value(|| CircuitBreaker::new(config.clone()).unwrap());
        println!("{name}: Machine {machine} B, CircuitBreaker {breaker} B per breaker ({COUNT} breakers)");
    }
}
