"""CircuitBreakerGroup: one breaker per key, LRU eviction of idle breakers,
events forwarded with their key, and the typed errors of bad input."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any, List, Tuple

import pytest
from tripgate import CircuitBreaker, CircuitBreakerGroup, CircuitOpenError, GroupFullError, State, TripgateError


def boom() -> None:
    raise ConnectionError("boom")


def test_each_key_gets_its_own_breaker_named_by_the_key() -> None:
    group = CircuitBreakerGroup(failure_tolerance=0, reset_timeout=60)
    bad = group.get("https://bad.example")
    assert bad.name == "https://bad.example"
    assert bad.options["failure_tolerance"] == 0
    assert group.get("https://bad.example") is bad
    with pytest.raises(ConnectionError):
        group.call("https://bad.example", boom)
    with pytest.raises(CircuitOpenError):
        group.call("https://bad.example", lambda: "never")
    assert group.call("https://good.example", lambda x: x * 2, 21) == 42
    assert group.keys() == ["https://bad.example", "https://good.example"]
    stats = group.stats()
    assert list(stats) == group.keys()
    assert stats["https://bad.example"].state is State.OPEN
    assert stats["https://good.example"].successes == 1
    assert group.max_breakers == 1000 and len(group) == 2 and "https://good.example" in group


def test_any_hashable_key_names_its_breaker_by_str() -> None:
    group = CircuitBreakerGroup()
    assert group.get(("api", 443)).name == "('api', 443)"
    assert group.get(7).name == "7"
    with pytest.raises(TypeError):
        group.get(["unhashable"])  # type: ignore[arg-type]
    assert group.keys() == [("api", 443), 7]


def test_call_async_goes_through_the_keys_breaker() -> None:
    group = CircuitBreakerGroup(failure_tolerance=0)

    async def fail() -> None:
        raise ConnectionError("down")

    async def main() -> None:
        with pytest.raises(ConnectionError):
            await group.call_async("a", fail)
        with pytest.raises(CircuitOpenError):
            await group.call_async("a", asyncio.sleep, 0)
        assert await group.call_async("b", asyncio.sleep, 0, "ok") == "ok"

    asyncio.run(main())
    assert group.get("a").state is State.OPEN and group.get("b").state is State.CLOSED


def test_when_full_the_least_recently_used_idle_closed_breaker_is_evicted() -> None:
    group = CircuitBreakerGroup(max_breakers=2)
    a = group.get("a")
    group.get("b")
    group.get("a")
    heard: List[Any] = []
    group.add_listener("success", lambda e: heard.append(e.key))
    b = group.get("b")  # now a is the least recently used
    group.get("c")
    assert group.keys() == ["b", "c"]
    assert a.call(lambda: 1) == 1, "an evicted breaker still works"
    assert heard == [], "an evicted breaker's events no longer reach the group"
    b.call(lambda: 2)
    assert heard == ["b"]
    assert group.get("a") is not a


def test_open_forced_and_busy_breakers_are_never_evicted() -> None:
    group = CircuitBreakerGroup(max_breakers=3, failure_tolerance=0)
    with pytest.raises(ConnectionError):
        group.call("open", boom)
    group.get("forced").force_closed()
    permit = group.get("busy").try_acquire()
    assert permit is not None
    with pytest.raises(GroupFullError, match=r"all 3 breakers \(max_breakers\)") as full:
        group.get("new")
    assert isinstance(full.value, TripgateError) and full.value.code == "group_full"
    assert group.keys() == ["open", "forced", "busy"]
    permit.success()
    group.get("new")
    assert group.keys() == ["open", "forced", "new"]


def test_delete_says_whether_there_was_a_breaker() -> None:
    group = CircuitBreakerGroup()
    a = group.get("a")
    assert group.delete("a") is True
    assert group.delete("a") is False
    assert group.keys() == []
    assert a.state is State.CLOSED


def test_group_listeners_hear_every_breaker_with_its_key() -> None:
    group = CircuitBreakerGroup(failure_tolerance=0)
    group.call("early", lambda: 1)
    changes: List[Tuple[Any, str, str, str]] = []

    def listener(e: Any) -> None:
        changes.append((e.key, e.from_state, e.to_state, e.reason))

    group.add_listener("state_change", listener)
    for key in ("early", "late"):
        with pytest.raises(ConnectionError):
            group.call(key, boom)
    assert changes == [
        ("early", "closed", "open", "failure_tolerance_exceeded"),
        ("late", "closed", "open", "failure_tolerance_exceeded"),
    ]
    group.remove_listener("state_change", listener)
    group.get("early").reset()
    assert len(changes) == 2
    with pytest.raises(ValueError, match="not listening"):
        group.remove_listener("state_change", listener)


def test_a_group_listener_that_raises_is_logged_and_the_others_run(caplog: pytest.LogCaptureFixture) -> None:
    group = CircuitBreakerGroup()
    heard: List[Any] = []

    def broken(e: Any) -> None:
        raise RuntimeError("listener bug")

    group.add_listener("success", broken)
    group.add_listener("success", lambda e: heard.append((e.key, e.event.event)))
    with caplog.at_level(logging.ERROR, logger="tripgate"):
        group.call("k", lambda: 1)
    assert heard == [("k", "success")]
    assert any("listener of a CircuitBreakerGroup raised" in r.getMessage() for r in caplog.records)


def test_bad_input_is_a_typed_error_and_creates_nothing() -> None:
    with pytest.raises(ValueError, match=r"^max_breakers must be at least 1, got 0$"):
        CircuitBreakerGroup(max_breakers=0)
    with pytest.raises(TypeError, match=r"^max_breakers must be an int"):
        CircuitBreakerGroup(max_breakers=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^reset_timeout"):
        CircuitBreakerGroup(reset_timeout=-1)
    with pytest.raises(TypeError, match="did you mean reset_timeout"):
        CircuitBreakerGroup(reset_timout=1)
    with pytest.raises(TypeError, match="named by its key"):
        CircuitBreakerGroup(name="x")
    group = CircuitBreakerGroup()
    with pytest.raises(ValueError, match=r"^event must be one of"):
        group.add_listener("nope", print)
    with pytest.raises(TypeError):
        group.add_listener("success", 1)  # type: ignore[arg-type]
    assert group.keys() == []


def test_watchers_see_breakers_come_and_go() -> None:
    group = CircuitBreakerGroup(max_breakers=1)
    group.get("first")
    seen: List[Tuple[str, Any]] = []

    class Watcher:
        def added(self, key: Any, breaker: CircuitBreaker) -> None:
            seen.append(("added", key))

        def removed(self, key: Any, breaker: CircuitBreaker) -> None:
            seen.append(("removed", key))

    stop = group._watch(Watcher())
    group.get("second")
    group.delete("second")
    stop()
    group.get("third")
    assert seen == [("added", "first"), ("removed", "first"), ("added", "second"), ("removed", "second")]


def test_many_threads_share_a_group_without_losing_a_permit() -> None:
    group = CircuitBreakerGroup(max_breakers=8)
    errors: List[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(300):
                group.call(f"key-{(n + i) % 12}", lambda: None)
        except GroupFullError:
            pass
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(group) <= 8
    for stats in group.stats().values():
        assert stats.admitted == stats.successes + stats.failures + stats.released + stats.in_flight
        assert stats.in_flight == 0
