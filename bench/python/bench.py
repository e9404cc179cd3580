"""tripgate against pybreaker, circuitbreaker, aiobreaker and purgatory, in
one process: the overhead each adds to a call, as the median of several
runs minus the median of the bare call measured the same way.

Run with `make bench-python` (or `python bench/python/bench.py`).
Scenarios: sync closed call, asyncio closed call, rejection while open, and
two threads calling one breaker at once.
"""

from __future__ import annotations

import asyncio
import datetime
import statistics
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Optional

import aiobreaker
import circuitbreaker
import purgatory
import pybreaker

import tripgate

RUNS = 7
CALLS = 200_000


def bare() -> int:
    return 1


async def bare_async() -> int:
    return 1


def failing() -> None:
    raise ConnectionError("down")


def per_call_ns(loop: Callable[[int], None], calls: int = CALLS) -> float:
    """Median over RUNS of the time per call of `loop(calls)`."""
    samples = []
    for _ in range(RUNS):
        start = time.perf_counter_ns()
        loop(calls)
        samples.append((time.perf_counter_ns() - start) / calls)
    return statistics.median(samples)


def sync_loop(f: Callable[[], Any]) -> Callable[[int], None]:
    def loop(n: int) -> None:
        for _ in range(n):
            f()

    return loop


def rejection_loop(f: Callable[[], Any]) -> Callable[[int], None]:
    def loop(n: int) -> None:
        for _ in range(n):
            try:
                f()
            except Exception:
                pass

    return loop


def async_loop(f: Callable[[], Any]) -> Callable[[int], None]:
    async def body(n: int) -> None:
        for _ in range(n):
            await f()

    return lambda n: asyncio.run(body(n))


def threaded_loop(f: Callable[[], Any]) -> Callable[[int], None]:
    def loop(n: int) -> None:
        half = sync_loop(f)
        threads = [threading.Thread(target=half, args=(n // 2,)) for _ in range(2)]
        [t.start() for t in threads]
        [t.join() for t in threads]

    return loop


def purgatory_sync() -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    factory = purgatory.SyncCircuitBreakerFactory(default_threshold=5, default_ttl=30)
    factory.initialize()
    return factory("bench")  # type: ignore[no-any-return]


def purgatory_async() -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    factory = purgatory.AsyncCircuitBreakerFactory(default_threshold=5, default_ttl=30)
    asyncio.run(factory.initialize())
    return factory("bench")  # type: ignore[no-any-return]


def decorators() -> Dict[str, Callable[[], Callable[[Callable[..., Any]], Callable[..., Any]]]]:
    """A fresh breaker per use, each with a tolerance of 5 failures."""
    return {
        "tripgate": lambda: tripgate.CircuitBreaker(failure_tolerance=5, reset_timeout=30.0),
        "pybreaker": lambda: pybreaker.CircuitBreaker(fail_max=5, reset_timeout=30),
        "circuitbreaker": lambda: circuitbreaker.circuit(failure_threshold=5, recovery_timeout=30),
        "aiobreaker": lambda: aiobreaker.CircuitBreaker(fail_max=5, timeout_duration=datetime.timedelta(seconds=30)),
        "purgatory": purgatory_sync,
    }


def opened(make: Callable[[], Callable[[Callable[..., Any]], Callable[..., Any]]]) -> Callable[[], Any]:
    """A call through an open breaker (opened by real failures)."""
    breaker = make()
    guarded_failing = breaker(failing)
    for _ in range(10):
        try:
            guarded_failing()
        except Exception:
            pass
    guarded = breaker(bare)
    try:
        guarded()
    except Exception:
        return guarded
    raise AssertionError("the breaker did not open")


def measure() -> Dict[str, Dict[str, Optional[float]]]:
    results: Dict[str, Dict[str, Optional[float]]] = {}
    base_sync = per_call_ns(sync_loop(bare))
    base_async = per_call_ns(async_loop(bare_async), CALLS // 4)
    base_reject = per_call_ns(rejection_loop(failing))
    base_threads = per_call_ns(threaded_loop(bare))
    for name, make in decorators().items():
        row: Dict[str, Optional[float]] = {}
        row["sync"] = per_call_ns(sync_loop(make()(bare))) - base_sync
        if name == "pybreaker":
            row["asyncio"] = None  # pybreaker's async support needs Tornado
        else:
            async_make = purgatory_async if name == "purgatory" else make
            row["asyncio"] = per_call_ns(async_loop(async_make()(bare_async)), CALLS // 4) - base_async
        # Against raising and catching an exception without any breaker.
        row["rejection"] = per_call_ns(rejection_loop(opened(make)), CALLS // 4) - base_reject + (base_reject - base_sync)
        row["two_threads"] = per_call_ns(threaded_loop(make()(bare))) - base_threads
        results[name] = row
    results["bare call (ns, not overhead)"] = {
        "sync": base_sync,
        "asyncio": base_async,
        "rejection": base_reject,
        "two_threads": base_threads,
    }
    return results


def main() -> None:
    results = measure()
    print(f"Python {sys.version.split()[0]}, {RUNS} runs each, median ns per call")
    print("overhead over the bare call (rejection: total time of a rejected call, raise and catch included)\n")
    columns = ["sync", "asyncio", "rejection", "two_threads"]
    print(f"| implementation | {' | '.join(columns)} |")
    print(f"| --- | {' | '.join('---:' for _ in columns)} |")
    for name, row in results.items():
        cells = ["n/a" if row[c] is None else f"{row[c]:.0f}" for c in columns]
        print(f"| {name} | {' | '.join(cells)} |")
    ours = results["tripgate"]
    print("\ntripgate's overhead as a fraction of each peer's (lower is better):\n")
    print(f"| peer | {' | '.join(columns)} |")
    print(f"| --- | {' | '.join('---:' for _ in columns)} |")
    for name, row in results.items():
        if name in ("tripgate", "bare call (ns, not overhead)"):
            continue
        cells = []
        for c in columns:
            mine, theirs = ours[c], row[c]
            cells.append("n/a" if mine is None or theirs is None or theirs <= 0 else f"{mine / theirs:.2f}")
        print(f"| {name} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
