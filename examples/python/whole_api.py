"""Every part of tripgate's Python API in one runnable script, checked by
`mypy --strict` and run by `make test`. Time is injected, so it runs in
milliseconds and its output is exact."""

from __future__ import annotations

import asyncio
import json
from typing import Any, List, Optional

from tripgate import (
    Backoff,
    CallEvent,
    CallTimeoutError,
    CircuitBreaker,
    CircuitOpenError,
    FailureRate,
    Permit,
    State,
    StateChange,
    Stats,
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


clock = Clock()
changes: List[str] = []

breaker = CircuitBreaker(
    failure_tolerance=2,
    failure_rate=FailureRate(threshold=0.5, minimum_calls=10, window_duration=60.0),
    slow_call_duration=2.0,
    reset_timeout=10.0,
    backoff=Backoff(multiplier=2.0, max_reset_timeout=60.0),
    half_open_max_calls=1,
    success_threshold=1,
    trial_timeout=30.0,
    call_timeout=5.0,
    is_failure=lambda error: not isinstance(error, PermissionError),
    is_result_failure=lambda result: result == "error page",
    exclude=(KeyError,),
    clock=clock,
    name="inventory",
    seed=7,
)


def on_change(change: StateChange) -> None:
    changes.append(f"{change.from_state}->{change.to_state} ({change.reason}) at {change.at:g}s")


def on_rejected(event: CallEvent) -> None:
    assert event.state == "open"


breaker.add_listener("state_change", on_change)
breaker.add_listener("rejected", on_rejected)


@breaker
def lookup(sku: str) -> int:
    """Stock level of a SKU."""
    if sku == "broken":
        raise ConnectionError("inventory service unreachable")
    return len(sku)


@breaker
async def lookup_async(sku: str) -> int:
    await asyncio.sleep(0)
    return lookup.__wrapped__(sku)  # type: ignore[attr-defined,no-any-return]


def main() -> None:
    assert lookup("abc") == 3
    assert breaker.call(lookup.__wrapped__, "abcd") == 4  # type: ignore[attr-defined]
    for _ in range(3):
        try:
            lookup("broken")
        except ConnectionError:
            pass
    assert breaker.state is State.OPEN
    try:
        lookup("abc")
    except CircuitOpenError as e:
        print(f"rejected: {e} (retry_after={e.retry_after}, code={e.code})")

    snapshot = breaker.snapshot()
    json.dumps(snapshot)
    # The restored breaker needs the same failure-rate window; other options may differ.
    moved = CircuitBreaker.restore(snapshot, failure_rate={"threshold": 0.5, "minimum_calls": 10, "window_duration": 60.0}, clock=clock)
    assert moved.retry_after == 10.0

    clock.now += 10
    permit: Optional[Permit] = breaker.try_acquire()
    assert permit is not None and permit.is_trial
    with permit:
        pass  # the trial succeeded
    assert breaker.stats().state is State.CLOSED

    with breaker:
        pass

    async def run_async() -> int:
        async with breaker:
            await asyncio.sleep(0)
        return await lookup_async("abcde")

    assert asyncio.run(run_async()) == 5

    async def hang() -> None:
        await asyncio.sleep(60)

    fast = CircuitBreaker(call_timeout=0.01)
    try:
        asyncio.run(fast.call_async(hang))
    except CallTimeoutError as e:
        print(f"timed out: {e}")

    breaker.force_open()
    breaker.force_closed()
    breaker.reset()
    breaker.remove_listener("rejected", on_rejected)
    stats: Stats = breaker.stats()
    summary: dict[str, Any] = {"state": stats.state.value, "admitted": stats.admitted, "failures": stats.failures}
    print("transitions:", *changes, sep="\n  ")
    print("stats:", summary)


if __name__ == "__main__":
    main()
