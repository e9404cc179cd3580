"""Fallbacks, Retry-After hints and the cause of a CircuitOpenError (issue
12): what a user of pybreaker or circuitbreaker reaches for, each with the
breaker's accounting checked after."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, List, Optional

import pytest
from tripgate import CallTimeoutError, CircuitBreaker, CircuitOpenError, Reason, State


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def balanced(breaker: CircuitBreaker) -> Any:
    s = breaker.stats()
    assert s.admitted == s.successes + s.failures + s.released + s.in_flight, s
    return s


def boom() -> None:
    raise ConnectionError("boom")


def test_a_fallback_answers_a_rejection_and_the_calls_own_errors() -> None:
    seen: List[BaseException] = []
    events: List[Any] = []

    def fallback(error: Exception) -> str:
        seen.append(error)
        return f"fallback for {type(error).__name__}"

    breaker = CircuitBreaker(fallback=fallback, exclude=KeyError)
    breaker.add_listener("fallback", events.append)
    assert breaker.call(boom) == "fallback for ConnectionError"

    def missing() -> None:
        raise KeyError("not counted")

    assert breaker.call(missing) == "fallback for KeyError"
    assert breaker.call(lambda: "ok") == "ok"
    breaker.force_open()
    assert breaker.call(lambda: pytest.fail("a rejected call ran")) == "fallback for CircuitOpenError"
    assert [type(e) for e in seen] == [ConnectionError, KeyError, CircuitOpenError]
    assert [e.event for e in events] == ["fallback"] * 3
    assert [e.error for e in events] == seen
    s = balanced(breaker)
    assert (s.failures, s.released, s.successes, s.rejections) == (1, 1, 1, 1)


def test_a_decorated_sync_function_falls_back_and_keeps_its_name() -> None:
    breaker = CircuitBreaker(fallback=lambda error: -1)

    @breaker
    def divide(a: int, b: int) -> float:
        """Divides."""
        return a / b

    assert divide(1, 0) == -1
    assert divide(4, 2) == 2
    assert divide.__name__ == "divide"
    assert balanced(breaker).failures == 1


def test_a_fallback_that_raises_is_what_the_caller_gets() -> None:
    def fallback(error: Exception) -> None:
        raise RuntimeError("from the fallback") from error

    breaker = CircuitBreaker(fallback=fallback)
    with pytest.raises(RuntimeError, match="from the fallback") as raised:
        breaker.call(boom)
    assert isinstance(raised.value.__cause__, ConnectionError)
    assert balanced(breaker).failures == 1


def test_async_calls_await_a_coroutine_fallback_and_it_answers_timeouts() -> None:
    async def fallback(error: Exception) -> str:
        await asyncio.sleep(0)
        return type(error).__name__

    breaker = CircuitBreaker(fallback=fallback, call_timeout=0.01)

    async def hang() -> None:
        await asyncio.sleep(10)

    async def fail() -> None:
        raise ConnectionError("down")

    @breaker
    async def decorated() -> None:
        raise ConnectionError("down")

    async def main() -> None:
        assert await breaker.call_async(hang) == "CallTimeoutError"
        assert await breaker.call_async(fail) == "ConnectionError"
        assert await decorated() == "ConnectionError"
        breaker.force_open()
        assert await breaker.call_async(fail) == "CircuitOpenError"

    asyncio.run(main())
    s = balanced(breaker)
    assert (s.failures, s.rejections, s.in_flight) == (3, 1, 0)


def test_a_sync_fallback_serves_async_calls_too() -> None:
    breaker = CircuitBreaker(fallback=lambda error: "plain")

    async def fail() -> None:
        raise ConnectionError("down")

    assert asyncio.run(breaker.call_async(fail)) == "plain"


def test_cancelling_the_caller_is_not_answered_by_the_fallback() -> None:
    calls: List[Exception] = []
    breaker = CircuitBreaker(fallback=calls.append)

    async def main() -> None:
        started = asyncio.Event()

        async def slow() -> None:
            started.set()
            await asyncio.sleep(10)

        task = asyncio.ensure_future(breaker.call_async(slow))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert calls == []
    s = balanced(breaker)
    assert (s.released, s.failures) == (1, 0)


def test_with_blocks_and_permits_have_no_fallback() -> None:
    breaker = CircuitBreaker(fallback=lambda error: "never")
    breaker.force_open()
    with pytest.raises(CircuitOpenError):
        with breaker:
            pass
    assert breaker.try_acquire() is None


def test_a_fallback_must_be_callable() -> None:
    with pytest.raises(TypeError, match=r"^fallback must be callable or None, got 3$"):
        CircuitBreaker(fallback=3)  # type: ignore[arg-type]

    def fallback(error: Exception) -> None:
        return None

    assert CircuitBreaker(fallback=fallback).options["fallback"] is fallback
    assert CircuitBreaker().options["fallback"] is None


def test_permit_failure_with_retry_after_opens_at_once_for_the_hint() -> None:
    clock = FakeClock()
    transitions: List[Any] = []
    breaker = CircuitBreaker(failure_tolerance=5, reset_timeout=1, clock=clock)
    breaker.add_listener("state_change", transitions.append)
    permit = breaker.try_acquire()
    assert permit is not None
    permit.failure(retry_after=30)
    assert [(t.from_state, t.to_state, t.reason) for t in transitions] == [("closed", "open", "retry_after_received")]
    assert Reason(transitions[0].reason) is Reason.RETRY_AFTER_RECEIVED
    assert breaker.retry_after == 30
    clock.now = 30
    assert breaker.state is State.HALF_OPEN


@pytest.mark.parametrize(
    ("hint", "error", "message"),
    [
        (-1, ValueError, "^retry_after must be a number of seconds >= 0, got -1$"),
        (float("nan"), ValueError, "^retry_after must be a number of seconds >= 0, got nan$"),
        ("10", TypeError, "^retry_after must be a number of seconds, got '10'$"),
        (True, TypeError, "^retry_after must be a number of seconds, got True$"),
    ],
)
def test_a_bad_retry_after_is_a_typed_error_and_the_permit_stays_unreported(hint: Any, error: type, message: str) -> None:
    breaker = CircuitBreaker()
    permit = breaker.try_acquire()
    assert permit is not None
    with pytest.raises(error, match=message):
        permit.failure(retry_after=hint)
    assert breaker.stats().in_flight == 1
    permit.failure(retry_after=None)
    s = balanced(breaker)
    assert (s.failures, s.state) == (1, State.CLOSED)


class Throttled(Exception):
    def __init__(self, retry_after: Optional[float]) -> None:
        super().__init__("throttled")
        self.retry_after = retry_after


def test_retry_after_hint_finds_the_hint_in_an_error_or_a_result() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(
        reset_timeout=1,
        clock=clock,
        is_result_failure=lambda response: response["status"] == 429,
        retry_after_hint=lambda error_or_result: error_or_result.retry_after if isinstance(error_or_result, Throttled) else error_or_result.get("retry_after"),
    )

    def raise_(error: Exception) -> None:
        raise error

    with pytest.raises(Throttled):
        breaker.call(raise_, Throttled(None))
    assert breaker.state is State.CLOSED
    response = {"status": 429, "retry_after": 20}
    assert breaker.call(lambda: response) is response
    assert breaker.state is State.OPEN and breaker.retry_after == 20
    clock.now = 20
    assert breaker.state is State.HALF_OPEN

    async def throttled() -> None:
        raise Throttled(5)

    with pytest.raises(Throttled):
        asyncio.run(breaker.call_async(throttled))
    assert breaker.retry_after == 5
    balanced(breaker)


def test_a_retry_after_hint_that_raises_or_answers_nonsense_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    answers = iter([ZeroDivisionError("hint bug"), -5, "soon"])

    def hint(error: Any) -> Any:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    breaker = CircuitBreaker(retry_after_hint=hint)
    with caplog.at_level(logging.ERROR, logger="tripgate"):
        for _ in range(3):
            with pytest.raises(ConnectionError):
                breaker.call(boom)
    logged = [r for r in caplog.records if "retry_after_hint raised" in r.getMessage()]
    assert len(logged) == 3
    assert [type(r.exc_info[1]) for r in logged if r.exc_info] == [ZeroDivisionError, ValueError, TypeError]
    s = balanced(breaker)
    assert (s.failures, s.state) == (3, State.CLOSED)


def test_max_retry_after_caps_a_hint_and_is_checked_by_the_core() -> None:
    assert CircuitBreaker().options["max_retry_after"] == 300
    breaker = CircuitBreaker(max_retry_after=60, clock=FakeClock())
    permit = breaker.try_acquire()
    assert permit is not None
    permit.failure(retry_after=float("inf"))
    assert breaker.retry_after == 60
    with pytest.raises(ValueError, match=r"^max_retry_after must be greater than 0, got 0$"):
        CircuitBreaker(max_retry_after=0)
    with pytest.raises(TypeError, match=r"^max_retry_after must be a number of seconds"):
        CircuitBreaker(max_retry_after="1")  # type: ignore[arg-type]


def test_a_circuit_open_error_is_caused_by_the_failure_that_opened_the_breaker() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_tolerance=1, reset_timeout=1, clock=clock)
    with pytest.raises(ConnectionError):
        breaker.call(boom)
    opener = ConnectionError("the second failure")

    def fail() -> None:
        raise opener

    with pytest.raises(ConnectionError):
        breaker.call(fail)
    with pytest.raises(CircuitOpenError) as rejected:
        breaker.call(lambda: None)
    assert rejected.value.__cause__ is opener
    clock.now = 1
    trial = breaker.try_acquire()
    assert trial is not None
    with pytest.raises(CircuitOpenError) as rejected:
        breaker.call(lambda: None)
    assert rejected.value.state is State.HALF_OPEN and rejected.value.__cause__ is opener
    trial.success()
    breaker.force_open()
    with pytest.raises(CircuitOpenError) as rejected:
        breaker.call(lambda: None)
    assert rejected.value.__cause__ is None


def test_the_cause_of_an_async_timeout_is_the_call_timeout_error() -> None:
    breaker = CircuitBreaker(failure_tolerance=0, call_timeout=0.01)

    async def main() -> None:
        with pytest.raises(CallTimeoutError) as timed_out:
            await breaker.call_async(asyncio.sleep, 10)
        with pytest.raises(CircuitOpenError) as rejected:
            await breaker.call_async(asyncio.sleep, 0)
        assert rejected.value.__cause__ is timed_out.value

    asyncio.run(main())


def test_a_clock_that_fails_on_admission_is_not_answered_by_the_fallback() -> None:
    class ClockBroke(Exception):
        pass

    readings = iter([0.0])

    def clock() -> float:
        # One reading for the constructor; then it fails.
        for reading in readings:
            return reading
        raise ClockBroke()

    answered: List[BaseException] = []
    breaker = CircuitBreaker(fallback=answered.append, clock=clock)
    with pytest.raises(ClockBroke):
        breaker.call(lambda: "never")
    with pytest.raises(ClockBroke):
        asyncio.run(breaker.call_async(asyncio.sleep, 0))
    assert answered == []


def test_a_circuit_open_errors_message_names_the_breaker_and_why_it_rejected() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_tolerance=0, reset_timeout=1, clock=clock, name="api")
    with pytest.raises(ConnectionError):
        breaker.call(boom)
    with pytest.raises(CircuitOpenError, match=r"^circuit breaker 'api' is open; retry after 1\.000 s$"):
        breaker.call(lambda: None)
    clock.now = 1
    trial = breaker.try_acquire()
    assert trial is not None
    with pytest.raises(CircuitOpenError, match=r"^circuit breaker 'api' is half_open and every trial slot is taken$"):
        breaker.call(lambda: None)
    trial.success()
    breaker.force_open()
    with pytest.raises(CircuitOpenError, match=r"^circuit breaker 'api' is forced_open$"):
        breaker.call(lambda: None)
