"""tripgate: a circuit breaker with exact semantics shared by Rust,
JavaScript and Python.

>>> from tripgate import CircuitBreaker
>>> breaker = CircuitBreaker(failure_tolerance=0, reset_timeout=10.0)
>>> breaker.state
<State.CLOSED: 'closed'>
"""

from ._breaker import CircuitBreaker, Guard
from ._errors import CallTimeoutError, CircuitOpenError, GroupFullError, InvalidSnapshotError, TripgateError
from ._group import CircuitBreakerGroup, GroupEvent
from ._native import CallEvent, Permit, StateChange
from ._types import Backoff, FailureRate, Reason, State, Stats

__all__ = [
    "Backoff",
    "CallEvent",
    "CallTimeoutError",
    "CircuitBreaker",
    "CircuitBreakerGroup",
    "CircuitOpenError",
    "FailureRate",
    "GroupEvent",
    "GroupFullError",
    "Guard",
    "InvalidSnapshotError",
    "Permit",
    "Reason",
    "State",
    "StateChange",
    "Stats",
    "TripgateError",
]

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

try:
    __version__ = _version("tripgate")
except PackageNotFoundError:  # imported from a source tree
    __version__ = "0.0.0"
