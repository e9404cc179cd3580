"""The exceptions tripgate raises. Option errors are plain ``TypeError`` and
``ValueError``; everything else derives from ``TripgateError`` and has a
stable ``code`` shared with the other languages."""

from __future__ import annotations

from typing import Optional

from ._native import MESSAGES, REJECTION_MESSAGES
from ._types import State


def _breaker(name: Optional[str]) -> str:
    """``circuit breaker 'name'``, or ``circuit breaker`` for one without a name."""
    return f"circuit breaker {name!r}" if name else "circuit breaker"


class TripgateError(Exception):
    """Base of tripgate's own exceptions."""

    code: str = "tripgate_error"


_STATE_BY_NAME = {state.value: state for state in State}


class CircuitOpenError(TripgateError):
    """The breaker rejected the call; it was not made.

    ``retry_after`` is the number of seconds until a trial call will be
    admitted (``None`` when half-open with every trial slot taken, or forced
    open). A fresh exception is raised for every rejection.

    Constructed as ``CircuitOpenError(state, retry_after, name)``; the
    fields are read from ``args`` and the message is built only when shown,
    so a rejection costs little.
    """

    code = "circuit_open"
    args: tuple[str, Optional[float], Optional[str]]

    @property
    def state(self) -> State:
        return _STATE_BY_NAME[self.args[0]]

    @property
    def retry_after(self) -> Optional[float]:
        return self.args[1]

    @property
    def name(self) -> Optional[str]:
        return self.args[2]

    def __str__(self) -> str:
        state, retry_after, name = self.args
        if retry_after is not None:
            return MESSAGES["circuit_open"].format(breaker=_breaker(name), state=state, retry_after=f"{retry_after:.3f} s")
        return MESSAGES[REJECTION_MESSAGES[state]].format(breaker=_breaker(name), state=state)


class CallTimeoutError(TripgateError, TimeoutError):
    """An async call ran longer than ``call_timeout`` and was cancelled; it
    counts as a failure."""

    code = "call_timeout"

    def __init__(self, timeout: Optional[float], name: Optional[str]) -> None:
        self.timeout = timeout
        self.name = name
        super().__init__(MESSAGES["call_timeout"].format(breaker=_breaker(name), timeout=f"{timeout} s"))

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


class GroupFullError(TripgateError):
    """A ``CircuitBreakerGroup`` holds ``max_breakers`` breakers and none can
    be evicted (each is open, half-open, forced or has calls in flight), so a
    new key gets no breaker."""

    code = "group_full"


# The native module raises these types; it is handed them here rather than
# importing this package itself.
from . import _native  # noqa: E402

_native._register_error_types(CircuitOpenError, CallTimeoutError, InvalidSnapshotError)
