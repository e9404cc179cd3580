"""Failure paths of the Python package (issue "Hardening"): reference cycles
the collector must free, failing and invalid clocks, re-entrant listeners,
unknown and odd options, and snapshots that are not JSON. After each, the
books must balance: admitted == successes + failures + released + in_flight.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import math
import threading
import time
import types
import weakref
from pathlib import Path
from typing import Any, Callable, List

import pytest
from tripgate import CircuitBreaker, CircuitOpenError, InvalidSnapshotError, State

FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "conformance"


class FlakyClock:
    """A manual clock that raises while ``broken`` is set."""

    def __init__(self) -> None:
        self.now = 0.0
        self.broken = False

    def __call__(self) -> float:
        if self.broken:
            raise OSError("clock broken")
        return self.now


def balanced(breaker: CircuitBreaker) -> Any:
    s = breaker.stats()
    assert s.admitted == s.successes + s.failures + s.released + s.in_flight, s
    return s


# ---- reference cycles -----------------------------------------------------------


class Service:
    """A service holding its breaker, whose clock is a method of the service."""

    def __init__(self) -> None:
        self.breaker = CircuitBreaker(clock=self.now)
        self.fetch = self.breaker(self._fetch)

    def now(self) -> float:
        return 0.0

    def _fetch(self) -> int:
        return 1


def listener_referencing_its_breaker() -> Any:
    breaker = CircuitBreaker()
    breaker.add_listener("state_change", lambda event: breaker.stats())
    return breaker


def predicate_referencing_its_breaker() -> Any:
    breaker = CircuitBreaker(is_failure=lambda error: breaker.state is State.CLOSED)
    return breaker


def decorated_method_held_by_its_instance() -> Any:
    service = Service()
    assert service.fetch() == 1
    return service


def permit_held_by_a_listener() -> Any:
    breaker = CircuitBreaker()
    permit = breaker.try_acquire()
    held = [permit]
    breaker.add_listener("success", lambda event: held)
    return breaker


@pytest.mark.parametrize(
    "make",
    [listener_referencing_its_breaker, predicate_referencing_its_breaker, decorated_method_held_by_its_instance, permit_held_by_a_listener],
)
def test_breakers_in_reference_cycles_are_collected(make: Callable[[], Any]) -> None:
    gc.collect()
    refs = [weakref.ref(make()) for _ in range(200)]
    gc.collect()
    alive = sum(ref() is not None for ref in refs)
    assert alive == 0, f"{alive} of 200 survived gc.collect()"


# ---- clocks ------------------------------------------------------------------------


def test_a_clock_failing_while_a_call_is_reported_keeps_the_result_and_the_permit(caplog: pytest.LogCaptureFixture) -> None:
    clock = FlakyClock()
    # slow_call_duration makes every report read the clock; a listener makes calls measured.
    breaker = CircuitBreaker(clock=clock, slow_call_duration=5.0)
    breaker.add_listener("success", lambda event: None)

    @breaker
    def works() -> int:
        clock.broken = True
        return 42

    @breaker
    def fails() -> None:
        clock.broken = True
        raise ConnectionError("own error")

    with caplog.at_level(logging.ERROR, logger="tripgate"):
        assert works() == 42
        clock.broken = False
        with pytest.raises(ConnectionError, match="own error"):
            fails()
        clock.broken = False
        with breaker:
            clock.broken = True
        clock.broken = False
        permit = breaker.try_acquire()
        assert permit is not None
        clock.broken = True
        permit.success()
        clock.broken = False
    s = balanced(breaker)
    assert (s.successes, s.failures, s.in_flight) == (3, 1, 0)
    assert [r.exc_info[1] for r in caplog.records if r.exc_info] and all("clock broken" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)


def test_an_async_call_reported_while_the_clock_fails_keeps_its_result() -> None:
    clock = FlakyClock()
    breaker = CircuitBreaker(clock=clock, slow_call_duration=5.0)

    async def raw() -> str:
        clock.broken = True
        return "ok"

    works = breaker(raw)

    async def main() -> None:
        assert await works() == "ok"
        clock.broken = False
        assert await breaker.call_async(raw) == "ok"
        clock.broken = False

    asyncio.run(main())
    s = balanced(breaker)
    assert (s.successes, s.in_flight) == (2, 0)


def test_a_half_open_trial_reported_while_the_clock_fails_still_closes_the_breaker() -> None:
    clock = FlakyClock()
    breaker = CircuitBreaker(failure_tolerance=0, reset_timeout=1.0, clock=clock)
    with pytest.raises(ConnectionError):
        breaker.call(lambda: (_ for _ in ()).throw(ConnectionError("down")))
    clock.now = 1.0

    def trial() -> str:
        clock.broken = True
        return "ok"

    assert breaker.call(trial) == "ok"
    clock.broken = False
    s = balanced(breaker)
    assert (s.state, s.trials_in_flight, s.in_flight) == (State.CLOSED, 0, 0)


def test_a_clock_failing_while_a_call_is_admitted_raises_its_error_and_admits_nothing() -> None:
    clock = FlakyClock()
    # A listener makes the call measured: its start time is read with the admission.
    breaker = CircuitBreaker(clock=clock)
    breaker.add_listener("success", lambda event: None)
    clock.broken = True
    called = []
    with pytest.raises(OSError, match="clock broken"):
        breaker.call(lambda: called.append(1))
    assert not called
    clock.broken = False
    assert balanced(breaker).admitted == 0


@pytest.mark.parametrize(
    "reading, error",
    [
        (math.nan, ValueError),
        (-1.0, ValueError),
        ("5", TypeError),
        (math.inf, ValueError),
        (1e300, ValueError),
        (10**400, ValueError),
        (2.0**64 / 1e9, ValueError),
        (None, TypeError),
    ],
)
def test_clock_readings_out_of_range_are_clock_errors(reading: Any, error: type) -> None:
    with pytest.raises(error, match="clock must return"):
        CircuitBreaker(clock=lambda: reading)


def test_one_huge_reading_while_reporting_never_becomes_the_breakers_time(caplog: pytest.LogCaptureFixture) -> None:
    clock = FlakyClock()
    breaker = CircuitBreaker(failure_tolerance=0, reset_timeout=1.0, clock=clock)

    def fails() -> None:
        clock.now = 1e300
        raise ConnectionError("down")

    with caplog.at_level(logging.ERROR, logger="tripgate"):
        with pytest.raises(ConnectionError):
            breaker.call(fails)
    assert any(isinstance(r.exc_info[1], ValueError) for r in caplog.records if r.exc_info)
    clock.now = 0.5
    assert breaker.state is State.OPEN
    assert breaker.retry_after == pytest.approx(0.5)
    assert balanced(breaker).failures == 1


# ---- listeners -----------------------------------------------------------------------


def test_remove_listener_never_holds_a_lock_while_comparing() -> None:
    breaker = CircuitBreaker()

    class ReEntrant:
        def __eq__(self, other: object) -> bool:
            breaker.add_listener("success", lambda event: None)
            breaker.stats()
            return other is self

        __hash__ = object.__hash__

        def __call__(self, event: object) -> None:
            pass

    callback = ReEntrant()
    breaker.add_listener("failure", callback)
    done = threading.Event()

    def remove() -> None:
        breaker.remove_listener("failure", callback)
        done.set()

    worker = threading.Thread(target=remove, daemon=True)
    worker.start()
    assert done.wait(5), "remove_listener deadlocked"


def test_remove_listener_whose_eq_releases_the_gil_while_another_thread_emits() -> None:
    breaker = CircuitBreaker(failure_tolerance=10**6)
    stop = threading.Event()

    class Slow:
        def __eq__(self, other: object) -> bool:
            stop.wait(0.01)  # releases the GIL
            return other is self

        __hash__ = object.__hash__

        def __call__(self, event: object) -> None:
            pass

    slow = Slow()
    breaker.add_listener("success", slow)
    breaker.add_listener("success", lambda event: None)

    def emit() -> None:
        while not stop.is_set():
            breaker.call(lambda: 1)

    emitter = threading.Thread(target=emit, daemon=True)
    emitter.start()
    done = threading.Event()

    def remove() -> None:
        breaker.remove_listener("success", slow)
        done.set()

    threading.Thread(target=remove, daemon=True).start()
    finished = done.wait(5)
    stop.set()
    emitter.join(5)
    assert finished, "remove_listener deadlocked"
    assert balanced(breaker).in_flight == 0


def test_every_listener_sees_transitions_in_the_order_they_happened() -> None:
    breaker = CircuitBreaker()
    seen: List[str] = []

    def resets(event: Any) -> None:
        if event.to_state == "forced_open":
            breaker.reset()  # a nested transition, before the others heard of forced_open

    breaker.add_listener("state_change", resets)
    breaker.add_listener("state_change", lambda event: seen.append(f"{event.from_state}->{event.to_state}"))
    breaker.force_open()
    assert seen == ["closed->forced_open", "forced_open->closed"]
    assert breaker.state is State.CLOSED


def test_a_throwing_predicate_counts_a_failure_and_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    def bug(value: object) -> bool:
        raise RuntimeError("predicate bug")

    breaker = CircuitBreaker(is_failure=bug, is_result_failure=bug)
    with caplog.at_level(logging.ERROR, logger="tripgate"):
        with pytest.raises(ConnectionError):
            breaker.call(lambda: (_ for _ in ()).throw(ConnectionError("own")))
        assert breaker.call(lambda: "value") == "value"
    s = balanced(breaker)
    assert (s.failures, s.successes) == (2, 0)
    assert sum("predicate bug" in str(r.exc_info[1]) for r in caplog.records if r.exc_info) == 2


def test_call_event_repr_reads_like_python() -> None:
    breaker = CircuitBreaker(failure_tolerance=0)
    events: List[Any] = []
    breaker.add_listener("rejected", events.append)
    breaker.force_open()
    with pytest.raises(CircuitOpenError):
        breaker.call(lambda: 1)
    text = repr(events[0])
    assert "duration=None" in text and "state='forced_open'" in text and "retry_after=None" in text, text
    assert "Some(" not in text


# ---- options --------------------------------------------------------------------------


def test_unknown_options_name_circuit_breaker_and_suggest_the_closest() -> None:
    cases = json.loads((FIXTURES / "option_suggestions.json").read_text())["cases"]
    assert len(cases) >= 5
    for case in cases:
        given, options = case["python"]["options"]
        suggestion = case["python"]["suggestion"]
        with pytest.raises(TypeError) as raised:
            CircuitBreaker(**options)
        message = str(raised.value)
        assert message.startswith(f"{given} is not an option of CircuitBreaker"), message
        if suggestion is None:
            assert "did you mean" not in message, message
        else:
            assert message.endswith(f"; did you mean {suggestion}?"), message


class FloatRaises(int):
    def __float__(self) -> float:
        raise RuntimeError("no float")


@pytest.mark.parametrize(
    "options, error, option",
    [
        ({"reset_timeout": 10**400}, ValueError, "reset_timeout"),
        ({"trial_timeout": -(10**400)}, ValueError, "trial_timeout"),
        ({"reset_timeout": FloatRaises(5)}, TypeError, "reset_timeout"),
        ({"failure_rate": {"threshold": 10**400, "minimum_calls": 1, "window_calls": 5}}, ValueError, "failure_rate.threshold"),
        ({"seed": 2**60}, ValueError, "seed"),
        ({"seed": 2**53 + 1}, ValueError, "seed"),
        ({"seed": 10**400}, ValueError, "seed"),
    ],
)
def test_odd_option_values_are_typed_errors_naming_the_option(options: dict[str, Any], error: type, option: str) -> None:
    with pytest.raises(error) as raised:
        CircuitBreaker(**options)
    assert str(raised.value).startswith(option + " "), str(raised.value)


def test_the_seed_range_is_the_same_as_in_every_language() -> None:
    CircuitBreaker(seed=2**53)
    CircuitBreaker(seed=0)


def test_any_mapping_is_accepted_for_nested_options() -> None:
    rate = types.MappingProxyType({"threshold": 0.5, "minimum_calls": 2, "window_calls": 4})
    backoff = types.MappingProxyType({"multiplier": 2.0, "max_reset_timeout": 60.0})
    breaker = CircuitBreaker(failure_rate=rate, backoff=backoff)
    assert breaker.stats().window_calls == 0


def test_assigning_an_attribute_raises() -> None:
    breaker = CircuitBreaker()
    with pytest.raises(AttributeError):
        breaker.failure_tolerance = 9  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        breaker.state = State.OPEN  # type: ignore[misc]


# ---- snapshots ------------------------------------------------------------------------


def test_snapshots_that_are_not_json_are_invalid_snapshots() -> None:
    valid = CircuitBreaker().snapshot()
    nested: dict[str, Any] = {}
    deep = nested
    for _ in range(100_000):
        deep["x"] = {}
        deep = deep["x"]
    for snapshot in [{**valid, "counters": {1, 2}}, {**valid, "window": object()}, {**valid, "extra": nested}, {**valid, "generation": math.nan}]:
        with pytest.raises(InvalidSnapshotError) as raised:
            CircuitBreaker.restore(snapshot)
        assert raised.value.field == "snapshot"


def test_generations_and_counters_above_2_53_are_refused_naming_the_field() -> None:
    valid = CircuitBreaker().snapshot()
    with pytest.raises(InvalidSnapshotError) as raised:
        CircuitBreaker.restore({**valid, "generation": 2**53})
    assert raised.value.field == "generation"
    with pytest.raises(InvalidSnapshotError) as raised:
        CircuitBreaker.restore({**valid, "counters": {**valid["counters"], "admitted": 2**64 - 1}})
    assert raised.value.field == "counters.admitted"


# ---- decorators and context managers ---------------------------------------------------


def test_a_generator_is_guarded_for_its_whole_iteration() -> None:
    breaker = CircuitBreaker(failure_tolerance=10)

    @breaker
    def numbers(fail_at: int) -> Any:
        for i in range(3):
            if i == fail_at:
                raise ConnectionError("mid-iteration")
            yield i
        return "done"

    gen = numbers(-1)
    assert balanced(breaker).admitted == 0, "creating the generator is not the call"
    assert list(gen) == [0, 1, 2]
    s = balanced(breaker)
    assert (s.admitted, s.successes) == (1, 1)
    with pytest.raises(ConnectionError):
        list(numbers(1))
    s = balanced(breaker)
    assert (s.failures, s.in_flight) == (1, 0)
    early = numbers(-1)
    assert next(early) == 0
    assert balanced(breaker).in_flight == 1
    early.close()
    s = balanced(breaker)
    assert (s.released, s.in_flight, s.successes) == (1, 0, 1)
    # send() and the return value reach through the guard.

    @breaker
    def echo() -> Any:
        received = yield "ready"
        return received

    gen2 = echo()
    assert next(gen2) == "ready"
    with pytest.raises(StopIteration) as stopped:
        gen2.send("hello")
    assert stopped.value.value == "hello"


def test_an_async_generator_is_guarded_for_its_whole_iteration() -> None:
    breaker = CircuitBreaker(failure_tolerance=10)

    @breaker
    async def numbers(fail_at: int) -> Any:
        for i in range(3):
            if i == fail_at:
                raise ConnectionError("mid-iteration")
            yield i

    async def main() -> None:
        assert [i async for i in numbers(-1)] == [0, 1, 2]
        with pytest.raises(ConnectionError):
            [i async for i in numbers(1)]
        early = numbers(-1)
        assert await early.__anext__() == 0
        await early.aclose()

    asyncio.run(main())
    s = balanced(breaker)
    assert (s.admitted, s.successes, s.failures, s.released, s.in_flight) == (3, 1, 1, 1, 0)


def test_an_object_with_an_async_call_is_guarded_as_async() -> None:
    class Client:
        async def __call__(self) -> None:
            raise ConnectionError("down")

    breaker = CircuitBreaker(failure_tolerance=10)
    guarded = breaker(Client())

    async def main() -> None:
        with pytest.raises(ConnectionError):
            await guarded()

    asyncio.run(main())
    s = balanced(breaker)
    assert (s.failures, s.successes) == (1, 0)


def test_guard_gives_each_block_its_own_permit_when_generators_interleave() -> None:
    clock = FlakyClock()
    breaker = CircuitBreaker(slow_call_duration=1.0, failure_tolerance=10, clock=clock)
    events: List[Any] = []
    breaker.add_listener("success", lambda e: events.append(("success", e.slow)))
    breaker.add_listener("failure", lambda e: events.append(("failure", e.slow)))

    def long_block() -> Any:  # entered at 0, fails at 5: a slow failure
        with breaker.guard():
            yield
            raise ConnectionError("down")

    def short_block() -> Any:  # entered at 5, succeeds at 5: a quick success
        with breaker.guard():
            yield

    long, short = long_block(), short_block()
    next(long)
    clock.now = 5.0
    next(short)
    with pytest.raises(ConnectionError):
        next(long)  # the long block ends first
    next(short, None)
    assert events == [("failure", True), ("success", False)]
    s = balanced(breaker)
    assert (s.admitted, s.slow_calls, s.in_flight) == (2, 1, 0)
    guard = breaker.guard()
    with guard:
        pass
    with pytest.raises(RuntimeError, match="one use"):
        with guard:
            pass

    async def main() -> None:
        async with breaker.guard() as permit:
            assert not permit.is_trial

    asyncio.run(main())
    assert balanced(breaker).successes == 3


def test_options_are_readable_and_complete() -> None:
    rate = {"threshold": 0.5, "minimum_calls": 2, "window_calls": 4}
    breaker = CircuitBreaker(failure_rate=rate, reset_timeout=2.5, seed=7, name="orders")
    options = breaker.options
    assert options["failure_tolerance"] == 5
    assert options["reset_timeout"] == 2.5
    assert options["failure_rate"].window_calls == 4 and options["failure_rate"].window_duration is None
    assert options["backoff"] is None and options["exclude"] == ()
    assert options["seed"] == 7 and options["name"] == "orders"
    assert options["clock"] is time.monotonic
    from tripgate import _native

    top_level = {name for name in _native.OPTION_NAMES if "." not in name}
    binding_options = {"call_timeout", "is_failure", "is_result_failure", "retry_after_hint", "fallback", "exclude", "clock", "name"}
    assert top_level | binding_options == set(options)
    with pytest.raises(TypeError):
        options["reset_timeout"] = 1.0  # type: ignore[index]
    # The options build an equal breaker.
    again = CircuitBreaker(**options)
    assert again.options == options


def test_threads_mixing_lock_free_successes_with_locked_failures_count_every_call() -> None:
    # Plain successes take the lock-free path (one compare-and-swap each);
    # failures, stats and permits take the lock, which folds the path's
    # calls in first. Whatever the interleaving, every call is counted once.
    breaker = CircuitBreaker(failure_tolerance=1_000_000)
    calls, failures_each, threads_count = 2_000, 50, 4
    errors: List[BaseException] = []

    def ok() -> int:
        return 1

    def boom() -> None:
        raise ValueError("boom")

    def work(n: int) -> None:
        try:
            for i in range(calls):
                if i % (calls // failures_each) == 0:
                    with pytest.raises(ValueError):
                        breaker.call(boom)
                else:
                    breaker.call(ok)
                if i % 97 == n:
                    stats = breaker.stats()
                    assert stats.admitted == stats.successes + stats.failures + stats.released + stats.in_flight
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(threads_count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    stats = breaker.stats()
    assert stats.admitted == calls * threads_count
    assert stats.failures == failures_each * threads_count
    assert stats.successes == (calls - failures_each) * threads_count
    assert stats.in_flight == 0 and stats.released == 0
