"""A Prometheus /metrics endpoint (prometheus_client) showing a breaker
group's series, scraped by the example itself: tripgate_breaker_state,
tripgate_breaker_calls_total and tripgate_breaker_transitions_total.

    python examples/python/prometheus_endpoint.py      (in the project's .venv)
"""

from __future__ import annotations

import urllib.request

from prometheus_client import CollectorRegistry, start_http_server
from tripgate import CircuitBreakerGroup, CircuitOpenError
from tripgate.prometheus import BreakerCollector


def main() -> None:
    registry = CollectorRegistry()
    group = CircuitBreakerGroup(failure_tolerance=1)
    collector = BreakerCollector(group)
    registry.register(collector)
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    try:
        group.call("search", lambda: "ok")

        def down() -> None:
            raise ConnectionError("payments service down")

        for _ in range(3):
            try:
                group.call("payments", down)
            except (ConnectionError, CircuitOpenError):
                pass
        port = server.server_address[1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as response:
            scraped = response.read().decode()
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
        collector.close()
    lines = [line for line in scraped.splitlines() if line.startswith("tripgate_") and not line.endswith(" 0.0")]
    print("\n".join(f"  {line}" for line in lines))
    for expected in (
        'tripgate_breaker_state{breaker="payments",state="open"} 1.0',
        'tripgate_breaker_calls_total{breaker="payments",outcome="failure"} 2.0',
        'tripgate_breaker_calls_total{breaker="payments",outcome="rejected"} 1.0',
        'tripgate_breaker_calls_total{breaker="search",outcome="success"} 1.0',
        'tripgate_breaker_transitions_total{breaker="payments",from="closed",reason="failure_tolerance_exceeded",to="open"} 1.0',
    ):
        assert expected in lines, f"the scrape lacks {expected}"


if __name__ == "__main__":
    main()
