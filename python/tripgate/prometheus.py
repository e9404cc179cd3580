"""A breaker's or a group's metrics for Prometheus (``pip install
tripgate[prometheus]`` for ``prometheus-client``). Importing ``tripgate``
never imports this module.

>>> from prometheus_client import CollectorRegistry
>>> from tripgate import CircuitBreaker
>>> from tripgate.prometheus import BreakerCollector
>>> registry = CollectorRegistry()
>>> registry.register(BreakerCollector(CircuitBreaker(name="payments")))
"""

from __future__ import annotations

from typing import Iterator, Union

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from ._breaker import CircuitBreaker
from ._group import CircuitBreakerGroup
from ._instrumented import METRICS, OUTCOMES, STATES, Followed


class BreakerCollector(Collector):
    """A ``prometheus_client`` collector of ``tripgate_breaker_state{breaker,state}``,
    ``tripgate_breaker_calls_total{breaker,outcome}`` and
    ``tripgate_breaker_transitions_total{breaker,from,to,reason}`` for a
    breaker or a group (``breaker`` is the name, or the group key), read
    when the registry is scraped. Register it with
    ``registry.register(collector)``; ``close()`` stops following the
    breakers (unregister it as well). One collector per registry: several
    would export the same metric names (use a group for many breakers)."""

    def __init__(self, breaker_or_group: Union[CircuitBreaker, CircuitBreakerGroup]) -> None:
        self._followed = Followed(breaker_or_group, "breaker_or_group")

    def describe(self) -> Iterator[Union[GaugeMetricFamily, CounterMetricFamily]]:
        yield from self._families()

    def collect(self) -> Iterator[Union[GaugeMetricFamily, CounterMetricFamily]]:
        state, calls, transitions = self._families()
        for books, stats in self._followed.books():
            for name in STATES:
                state.add_metric([books.name, name], 1 if name == stats.state.value else 0)
            by_outcome = books.calls(stats)
            for outcome in OUTCOMES:
                calls.add_metric([books.name, outcome], by_outcome[outcome])
            for attributes, count in books.transition_counts():
                transitions.add_metric([books.name, attributes["from"], attributes["to"], attributes["reason"]], count)
        yield state
        yield calls
        yield transitions

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, CounterMetricFamily, CounterMetricFamily]:
        (_, state, state_help), (_, calls, calls_help), (_, transitions, transitions_help) = (
            METRICS["state"],
            METRICS["calls"],
            METRICS["transitions"],
        )
        return (
            GaugeMetricFamily(state, state_help, labels=["breaker", "state"]),
            # prometheus_client adds the counters' `_total`.
            CounterMetricFamily(calls, calls_help, labels=["breaker", "outcome"]),
            CounterMetricFamily(transitions, transitions_help, labels=["breaker", "from", "to", "reason"]),
        )

    def close(self) -> None:
        self._followed.close()


__all__ = ["BreakerCollector"]
