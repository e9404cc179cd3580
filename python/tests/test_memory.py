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


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux /proc to read the resident set")
def test_failures_permits_listeners_async_calls_timeouts_and_restores_leave_memory_flat() -> None:
    import asyncio

    from tripgate import FailureRate

    options: dict = dict(
        failure_tolerance=1_000_000_000,
        slow_call_duration=60.0,
        failure_rate=FailureRate(threshold=1.0, minimum_calls=1_000_000, window_duration=60.0),
    )
    breaker = CircuitBreaker(**options)
    heard = [0]

    def listener(event: object) -> None:
        heard[0] += 1

    for event in ("success", "failure", "state_change", "timeout"):
        breaker.add_listener(event, listener)
    timed = CircuitBreaker(failure_tolerance=1_000_000_000, call_timeout=0.001)

    @breaker
    def ok(i: int) -> int:
        return i

    @breaker
    def down() -> None:
        raise ConnectionError("down")

    @breaker
    async def ok_async() -> int:
        return 1

    @breaker
    async def down_async() -> None:
        raise ConnectionError("down")

    async def hang() -> None:
        await asyncio.sleep(10)

    @breaker
    def numbers() -> object:
        yield 1
        yield 2

    loop = asyncio.new_event_loop()

    def round(n: int) -> None:
        for i in range(n):
            ok(i)
            try:
                down()
            except ConnectionError:
                pass
            permit = breaker.try_acquire()
            assert permit is not None
            (permit.success, permit.failure, permit.release)[i % 3]()
            with breaker.guard():
                pass
            sum(numbers())
            if i % 1000 == 0:
                CircuitBreaker.restore(breaker.snapshot(), **options)

        async def calls() -> None:
            for _ in range(n // 10):
                await ok_async()
                try:
                    await down_async()
                except ConnectionError:
                    pass
            await asyncio.gather(*(timed.call_async(hang) for _ in range(100)), return_exceptions=True)

        loop.run_until_complete(calls())

    round(20_000)  # warm up
    gc.collect()
    tracemalloc.start()
    before_rss, (before_py, _) = rss(), tracemalloc.get_traced_memory()
    for _ in range(5):
        round(20_000)
    gc.collect()
    after_rss, (after_py, _) = rss(), tracemalloc.get_traced_memory()
    tracemalloc.stop()
    loop.close()

    stats = breaker.stats()
    assert stats.in_flight == 0
    assert stats.admitted == 6 * (20_000 * 5 + 2 * 2_000)
    assert timed.stats().failures == 6 * 100
    assert heard[0] >= 6 * 20_000 * 4
    print(f"memory (mixed): rss {before_rss / 1e6:.1f} MB -> {after_rss / 1e6:.1f} MB; python heap grew {after_py - before_py} bytes")
    # 100,000 failures and 200,000 permits: a leak of 20 bytes each would show.
    assert after_rss - before_rss < 2_000_000, after_rss - before_rss
    assert after_py - before_py < 200_000, after_py - before_py
