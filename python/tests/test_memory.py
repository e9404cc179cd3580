"""1,000,000 calls and 100,000 rejections leave memory flat: no per-call
allocation in Rust or Python survives the call."""

from __future__ import annotations

import gc
import os
import tracemalloc

import pytest

from tripgate import CircuitBreaker, CircuitOpenError

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux /proc to read the resident set")
def test_a_million_calls_and_100k_rejections_leave_memory_flat() -> None:
    breaker = CircuitBreaker(failure_tolerance=1_000_000_000)
    guarded = breaker(lambda x: x)

    def calls(n: int) -> None:
        for i in range(n):
            guarded(i)

    def rejections(n: int) -> None:
        for _ in range(n):
            try:
                breaker.call(int)
            except CircuitOpenError:
                pass

    calls(100_000)  # warm up: caches, arenas
    gc.collect()
    tracemalloc.start()
    before_rss, (before_py, _) = rss(), tracemalloc.get_traced_memory()
    calls(1_000_000)
    breaker.force_open()
    rejections(1_000)
    gc.collect()
    middle_rss = rss()
    rejections(100_000)
    gc.collect()
    after_rss, (after_py, _) = rss(), tracemalloc.get_traced_memory()
    tracemalloc.stop()

    stats = breaker.stats()
    assert stats.successes == 1_100_000 and stats.rejections == 101_000
    grown_calls, grown_rejections = middle_rss - before_rss, after_rss - middle_rss
    print(
        f"memory: rss before {before_rss / 1e6:.1f} MB, after 1,000,000 calls {middle_rss / 1e6:.1f} MB, "
        f"after 100,000 rejections {after_rss / 1e6:.1f} MB; python heap grew {after_py - before_py} bytes"
    )
    # A leak of even 2 bytes a call would show as 2 MB.
    assert grown_calls < 2_000_000, grown_calls
    assert grown_rejections < 1_000_000, grown_rejections
    assert after_py - before_py < 100_000
