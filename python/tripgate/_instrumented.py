"""What the metrics integrations (``tripgate.otel``, ``tripgate.prometheus``)
read from a breaker or a group, in one place: the breakers by name (a
group's by key, following its breakers as they come and go), and per
breaker the figures of the three series every integration exports:

- state: 1 for the current state, 0 for the others;
- calls, by outcome: success, failure, rejected, released, timeout (a
  timed-out call counts once, as timeout);
- transitions, by from, to and reason.

The figures are cumulative, read from the breaker's stats when the metrics
are collected, so that no per-call work is added.
"""

from __future__ import annotations

import threading
from typing import Any, Dict, Hashable, Iterator, List, Tuple, Union

from ._breaker import CircuitBreaker
from ._group import CircuitBreakerGroup
from ._native import CALL_OUTCOMES
from ._native import METRICS as NATIVE_METRICS
from ._types import State, Stats

STATES = [state.value for state in State]
# The series' outcomes, names and descriptions are the core's (the binding kit).
OUTCOMES: List[str] = list(CALL_OUTCOMES)
#: what -> (OpenTelemetry name, Prometheus name without `_total`, description)
METRICS: Dict[str, Tuple[str, str, str]] = {what: (otel, prometheus, help_) for what, otel, prometheus, help_ in NATIVE_METRICS}


class Books:
    """One breaker's books beside its stats: timeouts and transitions,
    counted from its events."""

    def __init__(self, name: str, breaker: CircuitBreaker) -> None:
        self.name = name
        self.breaker = breaker
        self.timeouts = 0
        self.transitions: Dict[Tuple[str, str, str], int] = {}
        self._lock = threading.Lock()
        breaker.add_listener("timeout", self._on_timeout)
        breaker.add_listener("state_change", self._on_state_change)

    def _on_timeout(self, _event: Any) -> None:
        with self._lock:
            self.timeouts += 1

    def _on_state_change(self, event: Any) -> None:
        key = (event.from_state, event.to_state, event.reason)
        with self._lock:
            self.transitions[key] = self.transitions.get(key, 0) + 1

    def detach(self) -> None:
        self.breaker.remove_listener("timeout", self._on_timeout)
        self.breaker.remove_listener("state_change", self._on_state_change)

    def calls(self, stats: Stats) -> Dict[str, int]:
        """The calls series' figures, by outcome."""
        with self._lock:
            timeouts = self.timeouts
        return {
            "success": stats.successes,
            "failure": max(0, stats.failures - timeouts),
            "rejected": stats.rejections,
            "released": stats.released,
            "timeout": timeouts,
        }

    def transition_counts(self) -> List[Tuple[Dict[str, str], int]]:
        """Each transition counted so far, as ({from, to, reason}, count)."""
        with self._lock:
            counted = list(self.transitions.items())
        return [({"from": f, "to": t, "reason": r}, n) for (f, t, r), n in counted]


class Followed:
    """The breakers one ``instrument`` call covers."""

    def __init__(self, target: Union[CircuitBreaker, CircuitBreakerGroup], option: str) -> None:
        self._books: Dict[int, Books] = {}
        self._lock = threading.Lock()
        self._stop_watching: Any = None
        if isinstance(target, CircuitBreaker):
            self._books[id(target)] = Books(target.name or "", target)
        elif isinstance(target, CircuitBreakerGroup):
            self._stop_watching = target._watch(self)
        else:
            raise TypeError(f"{option} must be a CircuitBreaker or a CircuitBreakerGroup, got {target!r}")

    # The group's watcher protocol.
    def added(self, key: Hashable, breaker: CircuitBreaker) -> None:
        books = Books(str(key), breaker)
        with self._lock:
            self._books[id(breaker)] = books

    def removed(self, key: Hashable, breaker: CircuitBreaker) -> None:
        with self._lock:
            books = self._books.pop(id(breaker), None)
        if books is not None:
            books.detach()

    def books(self) -> Iterator[Tuple[Books, Stats]]:
        """Every covered breaker's books with its stats now."""
        with self._lock:
            current = list(self._books.values())
        for books in current:
            yield books, books.breaker.stats()

    def close(self) -> None:
        if self._stop_watching is not None:
            self._stop_watching()
            self._stop_watching = None
        with self._lock:
            current, self._books = list(self._books.values()), {}
        for books in current:
            books.detach()
