"""Behaviour of the Python API: decorators, context managers, classification
of outcomes, timeouts, cancellation, concurrency, listeners, options."""

from __future__ import annotations

import asyncio
import copy
import inspect
import logging
import pickle
import threading
from typing import Any, List

import pytest
import tripgate
from tripgate import (
    Backoff,
    CallTimeoutError,
    CircuitBreaker,
    CircuitOpenError,
    FailureRate,
    InvalidSnapshotError,
    State,
    TripgateError,
    _native,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def failing() -> None:
    raise RuntimeError("down")


def open_breaker(**options: Any) -> tuple[CircuitBreaker, Clock]:
    clock = Clock()
    breaker = CircuitBreaker(failure_tolerance=0, reset_timeout=10.0, clock=clock, **options)
    with pytest.raises(RuntimeError):
        breaker.call(failing)
    assert breaker.state is State.OPEN
    return breaker, clock


# ---- decorators -----------------------------------------------------------


def test_sync_decorator_keeps_name_doc_and_signature() -> None:
    breaker = CircuitBreaker()

    @breaker
    def fetch_user(uid: int, *, verbose: bool = False) -> str:
        """Fetch a user."""
        return f"user {uid}"

    assert fetch_user(7) == "user 7"
    assert fetch_user.__name__ == "fetch_user"
    assert fetch_user.__doc__ == "Fetch a user."
    assert list(inspect.signature(fetch_user).parameters) == ["uid", "verbose"]
    assert inspect.signature(fetch_user) == inspect.signature(fetch_user.__wrapped__)
    assert breaker.stats().successes == 1


def test_async_decorator_keeps_name_and_counts() -> None:
    breaker = CircuitBreaker(failure_tolerance=0)

    @breaker
    async def fetch_order(oid: int) -> int:
        """Fetch an order."""
        if oid < 0:
            raise ValueError("no such order")
        return oid

    assert inspect.iscoroutinefunction(fetch_order)
    assert fetch_order.__name__ == "fetch_order" and fetch_order.__doc__ == "Fetch an order."
    assert asyncio.run(fetch_order(3)) == 3
    with pytest.raises(ValueError):
        asyncio.run(fetch_order(-1))
    assert breaker.state is State.OPEN
    with pytest.raises(CircuitOpenError):
        asyncio.run(fetch_order(3))


def test_decorated_methods_bind_self() -> None:
    breaker = CircuitBreaker()

    class Client:
        def __init__(self) -> None:
            self.base = 10

        @breaker
        def get(self, x: int) -> int:
            return self.base + x

    assert Client().get(5) == 15
    assert breaker.stats().successes == 1


def test_open_breaker_does_not_call_the_function() -> None:
    breaker, _ = open_breaker(name="users")
    calls: List[int] = []
    with pytest.raises(CircuitOpenError) as raised:
        breaker.call(calls.append, 1)
    assert calls == []
    error = raised.value
    assert (error.state, error.retry_after, error.name, error.code) == (State.OPEN, 10.0, "users", "circuit_open")
    assert isinstance(error, TripgateError)
    assert "users" in str(error) and "retry after 10.000 s" in str(error)


def test_every_rejection_raises_a_fresh_exception() -> None:
    breaker, _ = open_breaker()
    errors = []
    for _ in range(3):
        try:
            breaker.call(lambda: None)
        except CircuitOpenError as e:
            errors.append(e)
    assert len({id(e) for e in errors}) == 3
    assert all(e.__traceback__ is not None and e.__traceback__.tb_next is None for e in errors)


def test_circuit_open_error_pickles() -> None:
    breaker, _ = open_breaker(name="x")
    with pytest.raises(CircuitOpenError) as raised:
        breaker.call(lambda: None)
    clone = pickle.loads(pickle.dumps(raised.value))
    assert (clone.state, clone.retry_after, clone.name, str(clone)) == (State.OPEN, 10.0, "x", str(raised.value))


# ---- context managers and permits ---------------------------------------------


def test_with_block_counts_success_and_failure() -> None:
    breaker = CircuitBreaker(failure_tolerance=1)
    with breaker:
        pass
    with pytest.raises(KeyError):
        with breaker:
            raise KeyError("x")
    stats = breaker.stats()
    assert (stats.successes, stats.failures, stats.in_flight) == (1, 1, 0)


def test_async_with_block() -> None:
    breaker = CircuitBreaker(failure_tolerance=0)

    async def main() -> None:
        async with breaker:
            await asyncio.sleep(0)
        with pytest.raises(OSError):
            async with breaker:
                raise OSError("reset by peer")
        with pytest.raises(CircuitOpenError):
            async with breaker:
                pass

    asyncio.run(main())
    assert breaker.stats().successes == 1


def test_nested_with_blocks_in_threads_keep_their_own_permits() -> None:
    breaker = CircuitBreaker(failure_tolerance=100)
    barrier = threading.Barrier(8)

    def worker(i: int) -> None:
        with breaker:
            barrier.wait()
            try:
                with breaker:
                    if i % 2:
                        raise LookupError()
            except LookupError:
                pass

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    stats = breaker.stats()
    assert (stats.admitted, stats.successes, stats.failures, stats.in_flight) == (16, 12, 4, 0)


def test_try_acquire_two_step() -> None:
    breaker, clock = open_breaker()
    assert breaker.try_acquire() is None
    clock.now += 10
    permit = breaker.try_acquire()
    assert permit is not None and permit.is_trial
    assert breaker.try_acquire() is None
    permit.success()
    assert breaker.state is State.CLOSED
    with pytest.raises(RuntimeError, match="already reported"):
        permit.success()


def test_permit_as_context_manager_and_dropped_permit_is_released() -> None:
    breaker = CircuitBreaker()
    permit = breaker.try_acquire()
    assert permit is not None
    with permit:
        pass
    assert breaker.stats().successes == 1
    lost = breaker.try_acquire()
    assert breaker.stats().in_flight == 1
    del lost
    stats = breaker.stats()
    assert (stats.in_flight, stats.released) == (0, 1)


# ---- what counts --------------------------------------------------------------


def test_exclude_and_is_failure_decide_what_counts() -> None:
    breaker = CircuitBreaker(
        failure_tolerance=0,
        exclude=(KeyError,),
        is_failure=lambda e: not isinstance(e, PermissionError),
    )

    def raise_(e: BaseException) -> None:
        raise e

    for error in (KeyError("k"), PermissionError("no")):
        with pytest.raises(type(error)):
            breaker.call(raise_, error)
    stats = breaker.stats()
    assert (stats.state, stats.released, stats.failures) == (State.CLOSED, 2, 0)
    with pytest.raises(ConnectionError):
        breaker.call(raise_, ConnectionError())
    assert breaker.state is State.OPEN


def test_is_result_failure_counts_bad_results_but_returns_them() -> None:
    breaker = CircuitBreaker(failure_tolerance=0, is_result_failure=lambda r: r["status"] >= 500)
    assert breaker.call(lambda: {"status": 200}) == {"status": 200}
    assert breaker.call(lambda: {"status": 503}) == {"status": 503}
    assert breaker.state is State.OPEN


def test_base_exceptions_propagate_and_release() -> None:
    breaker = CircuitBreaker(failure_tolerance=0)

    def interrupt() -> None:
        raise KeyboardInterrupt

    def exit_() -> None:
        raise SystemExit(3)

    with pytest.raises(KeyboardInterrupt):
        breaker.call(interrupt)
    with pytest.raises(SystemExit):
        breaker.call(exit_)
    stats = breaker.stats()
    assert (stats.state, stats.released, stats.failures) == (State.CLOSED, 2, 0)


def test_non_exception_predicate_errors_are_logged_and_count_as_failure(caplog: pytest.LogCaptureFixture) -> None:
    def broken(_: Any) -> bool:
        raise ZeroDivisionError("bug in predicate")

    breaker = CircuitBreaker(failure_tolerance=0, is_result_failure=broken)
    with caplog.at_level(logging.ERROR, logger="tripgate"):
        assert breaker.call(lambda: 1) == 1
    assert breaker.state is State.OPEN
    assert "is_result_failure raised" in caplog.text and "ZeroDivisionError" in caplog.text


# ---- timeouts and cancellation -------------------------------------------------------


def test_async_call_timeout_cancels_and_counts_a_failure() -> None:
    breaker = CircuitBreaker(failure_tolerance=0, call_timeout=0.05, name="slow")
    cancelled = []

    async def hang() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    async def main() -> None:
        with pytest.raises(CallTimeoutError) as raised:
            await breaker.call_async(hang)
        assert isinstance(raised.value, TimeoutError)
        assert raised.value.code == "call_timeout" and raised.value.timeout == 0.05
        await asyncio.sleep(0)

    events: List[Any] = []
    breaker.add_listener("timeout", events.append)
    asyncio.run(main())
    assert cancelled == [True]
    assert breaker.state is State.OPEN
    assert [e.event for e in events] == ["timeout"]


def test_a_timeout_error_raised_by_the_call_is_its_own() -> None:
    breaker = CircuitBreaker(call_timeout=5.0)

    async def own_timeout() -> None:
        raise asyncio.TimeoutError("upstream said so")

    with pytest.raises(asyncio.TimeoutError, match="upstream said so"):
        asyncio.run(breaker.call_async(own_timeout))
    assert breaker.stats().failures == 1


def test_sync_call_over_timeout_counts_as_failure_but_returns() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_tolerance=0, call_timeout=1.0, clock=clock)

    def slow() -> str:
        clock.now += 2
        return "late"

    assert breaker.call(slow) == "late"
    assert breaker.state is State.OPEN


def test_cancelled_caller_releases_the_permit() -> None:
    breaker = CircuitBreaker(failure_tolerance=0)

    async def main() -> None:
        started = asyncio.Event()

        async def wait_forever() -> None:
            started.set()
            await asyncio.sleep(10)

        task = asyncio.ensure_future(breaker.call_async(wait_forever))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    stats = breaker.stats()
    assert (stats.state, stats.released, stats.failures, stats.in_flight) == (State.CLOSED, 1, 0, 0)


# ---- concurrency in half-open ---------------------------------------------------------


def test_sixteen_threads_in_half_open_get_exactly_the_configured_trials() -> None:
    breaker, clock = open_breaker(half_open_max_calls=2)
    clock.now += 10
    barrier = threading.Barrier(16)
    admitted: List[int] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        held = []
        for _ in range(200):
            permit = breaker.try_acquire()
            if permit is not None:
                held.append(permit)
        with lock:
            admitted.append(len(held))
        barrier.wait()
        for permit in held:
            permit.success()

    threads = [threading.Thread(target=worker) for _ in range(16)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sum(admitted) == 2
    assert breaker.stats().rejections == 16 * 200 - 2 + 0


def test_a_thousand_tasks_in_half_open_get_exactly_the_configured_trials() -> None:
    breaker, clock = open_breaker(half_open_max_calls=3)
    clock.now += 10
    made = 0

    async def main() -> None:
        gate = asyncio.Event()

        async def trial() -> None:
            nonlocal made
            made += 1
            await gate.wait()

        tasks = [asyncio.ensure_future(breaker.call_async(trial)) for _ in range(1000)]
        await asyncio.sleep(0.01)
        gate.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert sum(isinstance(r, CircuitOpenError) for r in results) == 997

    asyncio.run(main())
    assert made == 3
    assert breaker.state is State.CLOSED


# ---- listeners -------------------------------------------------------------------------


def test_listeners_receive_events_and_can_be_removed() -> None:
    breaker, clock = open_breaker()
    changes: List[Any] = []
    rejected: List[Any] = []
    breaker.add_listener("state_change", changes.append)
    breaker.add_listener("rejected", rejected.append)
    with pytest.raises(CircuitOpenError):
        breaker.call(lambda: None)
    assert rejected[0].state == "open" and rejected[0].retry_after == 10.0
    clock.now += 10
    breaker.call(lambda: None)
    assert [(c.from_state, c.to_state, c.reason) for c in changes] == [
        ("open", "half_open", "reset_timeout_elapsed"),
        ("half_open", "closed", "trial_succeeded"),
    ]
    assert changes[0].at == 110.0
    breaker.remove_listener("state_change", changes.append)
    breaker.force_open()
    assert len(changes) == 2
    with pytest.raises(ValueError):
        breaker.remove_listener("state_change", changes.append)
    with pytest.raises(ValueError, match="event must be one of"):
        breaker.add_listener("opened", print)


def test_a_raising_listener_changes_nothing_and_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    breaker = CircuitBreaker(failure_tolerance=0)

    def broken(_: Any) -> None:
        raise RuntimeError("listener bug")

    seen: List[str] = []
    breaker.add_listener("failure", broken)
    breaker.add_listener("state_change", broken)
    breaker.add_listener("state_change", lambda c: seen.append(c.to_state))
    with caplog.at_level(logging.ERROR, logger="tripgate"):
        with pytest.raises(ConnectionError):
            breaker.call(lambda: (_ for _ in ()).throw(ConnectionError()))
    assert breaker.state is State.OPEN and seen == ["open"]
    assert caplog.text.count("listener raised") == 2 and "listener bug" in caplog.text


def test_success_and_failure_events_carry_duration() -> None:
    clock = Clock()
    breaker = CircuitBreaker(clock=clock, slow_call_duration=1.0, failure_tolerance=5)
    events: List[Any] = []
    breaker.add_listener("success", events.append)
    breaker.add_listener("failure", events.append)

    def takes(seconds: float) -> None:
        clock.now += seconds

    breaker.call(takes, 0.5)
    breaker.call(takes, 1.5)
    # A slow success is still reported as a success (flagged slow); the
    # machine counts it as a failure.
    assert [(e.event, e.duration, e.slow) for e in events] == [("success", 0.5, False), ("success", 1.5, True)]
    assert breaker.stats().consecutive_failures == 1


# ---- options -------------------------------------------------------------------------


BAD_OPTIONS = [
    ({"failure_tolerance": -1}, ValueError, "failure_tolerance"),
    ({"failure_tolerance": 1.5}, TypeError, "failure_tolerance"),
    ({"failure_tolerance": True}, TypeError, "failure_tolerance"),
    ({"failure_rate": 3}, TypeError, "failure_rate"),
    ({"failure_rate": {"threshold": 2, "minimum_calls": 1, "window_calls": 5}}, ValueError, "failure_rate.threshold"),
    ({"failure_rate": {"threshold": float("nan"), "minimum_calls": 1, "window_calls": 5}}, ValueError, "failure_rate.threshold"),
    ({"failure_rate": FailureRate(0.5, 0, window_calls=5)}, ValueError, "failure_rate.minimum_calls"),
    ({"failure_rate": FailureRate(0.5, 1)}, TypeError, "failure_rate"),
    ({"failure_rate": {"threshold": 0.5, "minimum_calls": 1, "window_call": 5}}, TypeError, "failure_rate.window_call"),
    ({"failure_rate": FailureRate(0.5, 1, window_calls=0)}, ValueError, "failure_rate.window_calls"),
    ({"failure_rate": FailureRate(0.5, 1, window_duration=0)}, ValueError, "failure_rate.window_duration"),
    ({"slow_call_duration": 0}, ValueError, "slow_call_duration"),
    ({"slow_call_duration": "1s"}, TypeError, "slow_call_duration"),
    ({"reset_timeout": -1}, ValueError, "reset_timeout"),
    ({"reset_timeout": float("inf")}, ValueError, "reset_timeout"),
    ({"backoff": Backoff(0.5, 60)}, ValueError, "backoff.multiplier"),
    ({"backoff": Backoff(2, 1)}, ValueError, "backoff.max_reset_timeout"),
    ({"backoff": Backoff(2, 60, jitter=2)}, ValueError, "backoff.jitter"),
    ({"backoff": [2, 60]}, TypeError, "backoff"),
    ({"half_open_max_calls": 0}, ValueError, "half_open_max_calls"),
    ({"success_threshold": 0}, ValueError, "success_threshold"),
    ({"trial_timeout": 0}, ValueError, "trial_timeout"),
    ({"call_timeout": 0}, ValueError, "call_timeout"),
    ({"call_timeout": "soon"}, TypeError, "call_timeout"),
    ({"is_failure": 3}, TypeError, "is_failure"),
    ({"is_result_failure": "yes"}, TypeError, "is_result_failure"),
    ({"exclude": (KeyError, 3)}, TypeError, "exclude"),
    ({"clock": 5}, TypeError, "clock"),
    ({"name": 5}, TypeError, "name"),
    ({"seed": -1}, ValueError, "seed"),
    ({"seed": "x"}, TypeError, "seed"),
]


@pytest.mark.parametrize("options,error,option", BAD_OPTIONS, ids=[str(o) for o, _, _ in BAD_OPTIONS])
def test_bad_options_raise_naming_the_option_and_value(options: dict[str, Any], error: type, option: str) -> None:
    with pytest.raises(error) as raised:
        CircuitBreaker(**options)
    message = str(raised.value)
    assert message.startswith(option + " "), message
    assert type(raised.value) is error


def test_bad_option_message_shows_the_value() -> None:
    with pytest.raises(ValueError, match=r"^reset_timeout must be greater than 0, got 0\.0$"):
        CircuitBreaker(reset_timeout=0.0)


def test_options_accept_dataclasses_and_dicts() -> None:
    for rate in (FailureRate(0.5, 2, window_duration=10.0), {"threshold": 0.5, "minimum_calls": 2, "window_duration": 10.0}):
        breaker = CircuitBreaker(failure_tolerance=100, failure_rate=rate, backoff={"multiplier": 2, "max_reset_timeout": 60})
        for _ in range(2):
            with pytest.raises(RuntimeError):
                breaker.call(failing)
        assert breaker.state is State.OPEN


def test_a_broken_clock_is_reported() -> None:
    with pytest.raises(TypeError, match="clock must return a number of seconds, got 'noon'"):
        CircuitBreaker(clock=lambda: "noon")  # type: ignore[arg-type,return-value]
    # A bool is not a reading, as it is not a number option (JS refuses it too).
    with pytest.raises(TypeError, match="clock must return a number of seconds, got True"):
        CircuitBreaker(clock=lambda: True)
    readings = iter([1.0, float("nan")])
    breaker = CircuitBreaker(clock=lambda: next(readings))
    with pytest.raises(ValueError, match="clock must return a finite number"):
        breaker.force_open()


# ---- snapshots, pickling and copying ------------------------------------------------


def test_snapshot_restores_across_breakers() -> None:
    breaker, clock = open_breaker()
    clock.now += 4
    snapshot = breaker.snapshot()
    assert snapshot["state"] == "open" and snapshot["open_remaining"] == 6_000_000_000
    later = Clock()
    later.now = 5.0
    restored = CircuitBreaker.restore(snapshot, failure_tolerance=0, reset_timeout=10.0, clock=later)
    assert restored.state is State.OPEN and restored.retry_after == 6.0
    with pytest.raises(InvalidSnapshotError) as raised:
        CircuitBreaker.restore({**snapshot, "version": 9})
    assert raised.value.field == "version" and raised.value.code == "invalid_snapshot"
    with pytest.raises(InvalidSnapshotError) as raised:
        CircuitBreaker.restore({"state": "open"})
    assert raised.value.field == "snapshot"
    with pytest.raises(TypeError):
        CircuitBreaker.restore("open")  # type: ignore[arg-type]


def test_breakers_cannot_be_pickled_or_copied() -> None:
    breaker = CircuitBreaker()
    for attempt in (pickle.dumps, copy.copy, copy.deepcopy):
        with pytest.raises(TypeError, match="snapshot"):
            attempt(breaker)


# ---- drift between Rust and the Python API --------------------------------------------


def test_states_and_events_match_the_core() -> None:
    from tripgate import Reason

    assert [s.value for s in State] == _native.STATES
    assert [r.value for r in Reason] == _native.REASONS
    assert _native.EVENTS == ["state_change", "success", "failure", "rejected", "timeout", "fallback"]


def test_stats_fields_match_the_core() -> None:
    from dataclasses import fields

    from tripgate import Stats

    assert [f.name for f in fields(Stats)] == _native.STATS_FIELDS
    assert list(CircuitBreaker()._stats()) == _native.STATS_FIELDS


def test_error_codes_match_the_core() -> None:
    from tripgate import CallTimeoutError, CircuitOpenError, GroupFullError, InvalidSnapshotError

    codes = {CircuitOpenError.code, CallTimeoutError.code, InvalidSnapshotError.code, GroupFullError.code}
    # Every code the core lists is carried by a Python type, but these two:
    # option errors are TypeError/ValueError, and Python breakers are never disposed.
    assert codes | {"invalid_config", "disposed"} == set(_native.ERROR_CODES)


def test_every_core_option_is_a_python_option() -> None:
    parameters = inspect.signature(CircuitBreaker.__init__).parameters
    for name in _native.OPTION_NAMES:
        top, _, leaf = name.partition(".")
        assert top in parameters, name
        if leaf:
            holder = {"failure_rate": FailureRate, "backoff": Backoff}[top]
            assert leaf in holder.__dataclass_fields__, name


def test_public_names() -> None:
    assert set(tripgate.__all__) <= set(dir(tripgate))
    assert tripgate.CircuitBreaker.__module__ == "tripgate._breaker"


def test_async_decorator_handles_trials_and_slow_calls() -> None:
    breaker, clock = open_breaker(slow_call_duration=1.0)

    @breaker
    async def work(seconds: float) -> str:
        clock.now += seconds
        return "done"

    clock.now += 10
    assert asyncio.run(work(2.0)) == "done"  # a slow trial: a failed trial
    assert breaker.state is State.OPEN
    clock.now += 10
    assert asyncio.run(work(0.5)) == "done"  # a quick trial closes it
    assert breaker.state is State.CLOSED
    stats = breaker.stats()
    assert (stats.slow_calls, stats.in_flight) == (1, 0)
