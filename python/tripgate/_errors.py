"""The exceptions tripgate raises. Option errors are plain ``TypeError`` and
``ValueError``; everything else derives from ``TripgateError`` and has a
stable ``code`` shared with the other languages."""

from __future__ import annotations

from typing import Optional

from ._types import State


class TripgateError(Exception):
    """Base of tripgate's own exceptions."""

    code: str = "tripgate_error"


class CircuitOpenError(TripgateError):
    """The breaker rejected the call; it was not made.

    ``retry_after`` is the number of seconds until a trial call will be
    admitted (``None`` when half-open with every trial slot taken, or forced
    open). A fresh exception is raised for every rejection.
    """

    code = "circuit_open"

    def __init__(self, state: str, retry_after: Optional[float], name: Optional[str]) -> None:
        self.state = State(state)
        self.retry_after = retry_after
        self.name = name
        who = f"circuit breaker {name!r}" if name else "circuit breaker"
        if retry_after is not None:
            message = f"{who} is {self.state.value}; retry after {retry_after:.3f} s"
        elif self.state is State.HALF_OPEN:
            message = f"{who} is half_open and every trial slot is taken"
        else:
            message = f"{who} is {self.state.value}"
        super().__init__(message)

    def __reduce__(self) -> tuple[type[CircuitOpenError], tuple[str, Optional[float], Optional[str]]]:
        return (type(self), (self.state.value, self.retry_after, self.name))


class CallTimeoutError(TripgateError, TimeoutError):
    """An async call ran longer than ``call_timeout`` and was cancelled; it
    counts as a failure."""

    code = "call_timeout"

    def __init__(self, timeout: Optional[float], name: Optional[str]) -> None:
        self.timeout = timeout
        self.name = name
        who = f"call through circuit breaker {name!r}" if name else "call"
        super().__init__(f"{who} timed out after {timeout} s")

    def __reduce__(self) -> tuple[type[CallTimeoutError], tuple[Optional[float], Optional[str]]]:
        return (type(self), (self.timeout, self.name))


class InvalidSnapshotError(TripgateError, ValueError):
    """``CircuitBreaker.restore`` was given a snapshot it cannot restore;
    ``field`` names the offending field (``"snapshot"`` when it is not of the
    snapshot format at all)."""

    code = "invalid_snapshot"

    def __init__(self, message: str, field: str) -> None:
        self.field = field
        super().__init__(message)

    def __reduce__(self) -> tuple[type[InvalidSnapshotError], tuple[str, str]]:
        return (type(self), (str(self), self.field))
