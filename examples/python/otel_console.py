"""A breaker's metrics through OpenTelemetry (tripgate.otel), printed by
the SDK's console exporter: tripgate.breaker.state, tripgate.breaker.calls
and tripgate.breaker.transitions, each with the attribute ``breaker``.

    python examples/python/otel_console.py      (in the project's .venv)
"""

from __future__ import annotations

import io
import json

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader
from tripgate import CircuitBreaker, CircuitOpenError
from tripgate.otel import instrument


def main() -> None:
    printed = io.StringIO()
    # A long interval: the export happens when the provider shuts down.
    reader = PeriodicExportingMetricReader(ConsoleMetricExporter(out=printed), export_interval_millis=3_600_000)
    provider = MeterProvider(metric_readers=[reader])
    breaker = CircuitBreaker(name="payments", failure_tolerance=1)
    handle = instrument(breaker, provider.get_meter("example"))

    def down() -> None:
        raise ConnectionError("payments service down")

    breaker.call(lambda: "ok")
    for _ in range(3):
        try:
            breaker.call(down)
        except (ConnectionError, CircuitOpenError):
            pass
    provider.shutdown()
    handle.close()
    print(printed.getvalue())

    exported = json.loads(printed.getvalue())
    points = {
        (metric["name"], tuple(sorted(point["attributes"].items()))): point["value"]
        for resource in exported["resource_metrics"]
        for scope in resource["scope_metrics"]
        for metric in scope["metrics"]
        for point in metric["data"]["data_points"]
    }
    assert points[("tripgate.breaker.state", (("breaker", "payments"), ("state", "open")))] == 1
    assert points[("tripgate.breaker.calls", (("breaker", "payments"), ("outcome", "failure")))] == 2
    assert points[("tripgate.breaker.calls", (("breaker", "payments"), ("outcome", "rejected")))] == 1
    transition = (("breaker", "payments"), ("from", "closed"), ("reason", "failure_tolerance_exceeded"), ("to", "open"))
    assert points[("tripgate.breaker.transitions", transition)] == 1


if __name__ == "__main__":
    main()
