"""Plain data types of the public API."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Optional


class _Name(str, enum.Enum):
    """A str enum whose values are the canonical names in every language, and
    which prints as its value."""

    def __str__(self) -> str:
        return str.__str__(self)


class State(_Name):
    """A breaker's state; the values are the canonical names in every language."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"
    FORCED_OPEN = "forced_open"
    FORCED_CLOSED = "forced_closed"


class Reason(_Name):
    """Why a transition happened (``StateChange.reason`` holds the value); the
    values are the canonical names in every language."""

    FAILURE_TOLERANCE_EXCEEDED = "failure_tolerance_exceeded"
    FAILURE_RATE_EXCEEDED = "failure_rate_exceeded"
    RETRY_AFTER_RECEIVED = "retry_after_received"
    RESET_TIMEOUT_ELAPSED = "reset_timeout_elapsed"
    TRIAL_SUCCEEDED = "trial_succeeded"
    TRIAL_FAILED = "trial_failed"
    TRIAL_TIMED_OUT = "trial_timed_out"
    FORCED_OPEN = "forced_open"
    FORCED_CLOSED = "forced_closed"
    RESET = "reset"


@dataclass(frozen=True)
class FailureRate:
    """Trip when the window holds at least ``minimum_calls`` outcomes and
    ``failures / outcomes >= threshold``. Give exactly one window:
    ``window_calls`` (the last N outcomes) or ``window_duration`` (seconds)."""

    threshold: float
    minimum_calls: int
    window_calls: Optional[int] = None
    window_duration: Optional[float] = None


@dataclass(frozen=True)
class Backoff:
    """Each failed trial multiplies the open duration by ``multiplier``, up
    to ``max_reset_timeout`` seconds; ``jitter`` spreads each duration
    uniformly within ``±jitter`` of its value."""

    multiplier: float
    max_reset_timeout: float
    jitter: float = 0.0


@dataclass(frozen=True)
class Stats:
    """Cumulative counters and the current view of a breaker (times in seconds)."""

    state: State
    generation: int
    admitted: int
    successes: int
    failures: int
    slow_calls: int
    rejections: int
    released: int
    stale_outcomes: int
    trial_timeouts: int
    abandoned: int
    consecutive_failures: int
    window_calls: int
    window_failures: int
    failure_rate: Optional[float]
    trials_in_flight: int
    in_flight: int
    last_transition_at: Optional[float]
    retry_after: Optional[float]
