"""A breaker's or a group's metrics through an OpenTelemetry meter
(``pip install tripgate[otel]`` for ``opentelemetry-api``). Importing
``tripgate`` never imports this module.

>>> from opentelemetry import metrics
>>> from tripgate import CircuitBreaker
>>> from tripgate.otel import instrument
>>> handle = instrument(CircuitBreaker(name="payments"), metrics.get_meter("app"))
>>> handle.close()
"""

from __future__ import annotations

import threading
from typing import Iterable, List, Union

from opentelemetry.metrics import CallbackOptions, Meter, Observation

from ._breaker import CircuitBreaker
from ._group import CircuitBreakerGroup
from ._instrumented import METRICS, OUTCOMES, STATES, Followed


class Instrumentation:
    """What ``instrument`` returns: ``close()`` stops the reports (the
    OpenTelemetry API cannot unregister an observable instrument's callback,
    so a closed one observes nothing)."""

    def __init__(self, followed: Followed) -> None:
        self._followed = followed
        self._closed = False
        self._lock = threading.Lock()

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._followed.close()

    def _state(self, _options: CallbackOptions) -> Iterable[Observation]:
        observations: List[Observation] = []
        if not self._closed:
            for books, stats in self._followed.books():
                for name in STATES:
                    observations.append(Observation(1 if name == stats.state.value else 0, {"breaker": books.name, "state": name}))
        return observations

    def _calls(self, _options: CallbackOptions) -> Iterable[Observation]:
        observations: List[Observation] = []
        if not self._closed:
            for books, stats in self._followed.books():
                by_outcome = books.calls(stats)
                for outcome in OUTCOMES:
                    observations.append(Observation(by_outcome[outcome], {"breaker": books.name, "outcome": outcome}))
        return observations

    def _transitions(self, _options: CallbackOptions) -> Iterable[Observation]:
        observations: List[Observation] = []
        if not self._closed:
            for books, _stats in self._followed.books():
                for attributes, count in books.transition_counts():
                    observations.append(Observation(count, {"breaker": books.name, **attributes}))
        return observations


def instrument(breaker_or_group: Union[CircuitBreaker, CircuitBreakerGroup], meter: Meter) -> Instrumentation:
    """Registers, on ``meter``, ``tripgate.breaker.state`` (an observable
    gauge: 1 for the current state, attribute ``state``),
    ``tripgate.breaker.calls`` (an observable counter, attribute ``outcome``:
    success, failure, rejected, released or timeout; a timed-out call counts
    once, as timeout) and ``tripgate.breaker.transitions`` (an observable
    counter, attributes ``from``, ``to``, ``reason``), each with the
    attribute ``breaker`` (the name, or the group key). A group's breakers
    are covered as it creates them; an evicted one is no longer observed."""
    for method in ("create_observable_gauge", "create_observable_counter"):
        if not callable(getattr(meter, method, None)):
            raise TypeError(f"meter must be an OpenTelemetry Meter, got {meter!r}")
    handle = Instrumentation(Followed(breaker_or_group, "breaker_or_group"))
    (state_name, _, state_help), (calls_name, _, calls_help), (transitions_name, _, transitions_help) = (
        METRICS["state"],
        METRICS["calls"],
        METRICS["transitions"],
    )
    meter.create_observable_gauge(state_name, callbacks=[handle._state], description=state_help)
    meter.create_observable_counter(calls_name, callbacks=[handle._calls], description=calls_help)
    meter.create_observable_counter(transitions_name, callbacks=[handle._transitions], description=transitions_help)
    return handle


__all__ = ["Instrumentation", "instrument"]
