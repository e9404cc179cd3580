"""The optional integrations against the real things: httpx transports and
the requests adapter against HTTP servers on 127.0.0.1 (started and stopped
here, also when a test fails), OpenTelemetry through the SDK's in-memory
reader, and Prometheus through prometheus_client's text output parsed back."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from email.utils import formatdate
from typing import Any, Callable, Dict, Iterator, Tuple

import httpx
import pytest
import requests
from _servers import Server
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from tripgate import CallTimeoutError, CircuitBreaker, CircuitBreakerGroup, CircuitOpenError, State
from tripgate._http import origin, parse_retry_after
from tripgate.httpx import AsyncCircuitBreakerTransport, CircuitBreakerTransport
from tripgate.otel import instrument
from tripgate.prometheus import BreakerCollector
from tripgate.requests import CircuitBreakerAdapter

Respond = Callable[[str], Tuple[int, Dict[str, str]]]


def answering(respond: Respond) -> Callable[[str], Tuple[int, Dict[str, str], bytes]]:
    """A server's answers: the status and headers `respond` gives, and a body naming the status."""

    def answer(path: str) -> Tuple[int, Dict[str, str], bytes]:
        status, headers = respond(path)
        return status, headers, f"status {status}".encode()

    return answer


@pytest.fixture
def serve() -> Iterator[Callable[[Respond], Server]]:
    started = []

    def start(respond: Respond) -> Server:
        server = Server(answering(respond))
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def test_importing_tripgate_imports_no_integration_library() -> None:
    code = "import sys, tripgate; print(sorted(m for m in ('httpx', 'requests', 'opentelemetry', 'prometheus_client') if m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"


def test_origin_and_retry_after_parsing() -> None:
    assert origin("https://Example.com:443/a?b") == "https://example.com"
    assert origin("http://127.0.0.1:8080/x") == "http://127.0.0.1:8080"
    assert origin("http://[::1]:81/") == "http://[::1]:81"
    assert parse_retry_after("5") == 5.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412420.0) == 60.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445500000.0) == 0.0
    assert parse_retry_after("-5") is None and parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_httpx_transport_one_breaker_per_origin(serve: Callable[[Respond], Server]) -> None:
    flaky = serve(lambda path: (503, {}))
    healthy = serve(lambda path: (200, {}))
    transport = CircuitBreakerTransport(failure_tolerance=1, reset_timeout=60)
    with httpx.Client(transport=transport) as client:
        for _ in range(2):
            response = client.get(f"{flaky.origin}/x")
            assert response.status_code == 503 and response.text == "status 503", "a counted response is returned"
        with pytest.raises(CircuitOpenError) as rejected:
            client.get(f"{flaky.origin}/x")
        assert rejected.value.name == flaky.origin
        assert flaky.requests == 2, "the open breaker kept the request from the server"
        for _ in range(5):
            assert client.get(f"{healthy.origin}/y").status_code == 200
    assert sorted(transport.group.keys()) == sorted([flaky.origin, healthy.origin])  # type: ignore[type-var]
    assert transport.group.stats()[healthy.origin].rejections == 0


def test_httpx_retry_after_opens_at_once_for_the_hint(serve: Callable[[Respond], Server]) -> None:
    throttled = serve(lambda path: (429, {"Retry-After": "120"}))
    unavailable = serve(lambda path: (503, {"Retry-After": formatdate(usegmt=True, timeval=time.time() + 30)}))
    transport = CircuitBreakerTransport(failure_tolerance=5, reset_timeout=1)
    with httpx.Client(transport=transport) as client:
        assert client.get(throttled.origin).status_code == 429
        assert client.get(unavailable.origin).status_code == 503
    first = transport.group.get(throttled.origin)
    assert first.state is State.OPEN
    assert first.retry_after is not None and 119 < first.retry_after <= 120
    second = transport.group.get(unavailable.origin).retry_after
    assert second is not None and 25 < second <= 30


def test_httpx_async_transport(serve: Callable[[Respond], Server]) -> None:
    flaky = serve(lambda path: (500, {}))
    transport = AsyncCircuitBreakerTransport(failure_tolerance=0, is_result_failure=lambda r: r.status_code == 500)

    async def main() -> None:
        async with httpx.AsyncClient(transport=transport) as client:
            assert (await client.get(flaky.origin)).status_code == 500
            with pytest.raises(CircuitOpenError):
                await client.get(flaky.origin)

    asyncio.run(main())
    assert flaky.requests == 1


def test_httpx_network_errors_count_and_call_timeout_applies() -> None:
    # A port nothing listens on: taken and given back at once.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        address = f"http://127.0.0.1:{probe.getsockname()[1]}"
    transport = CircuitBreakerTransport(failure_tolerance=0)
    with httpx.Client(transport=transport) as client:
        with pytest.raises(httpx.ConnectError):
            client.get(address)
        with pytest.raises(CircuitOpenError):
            client.get(address)

    class Hanging(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            await asyncio.sleep(10)
            raise AssertionError("not reached")

    hanging = AsyncCircuitBreakerTransport(Hanging(), call_timeout=0.02)

    async def main() -> None:
        async with httpx.AsyncClient(transport=hanging) as client:
            with pytest.raises(CallTimeoutError):
                await client.get("http://hangs.example/")

    asyncio.run(main())
    assert hanging.group.stats()["http://hangs.example"].failures == 1


def test_httpx_options_are_checked() -> None:
    with pytest.raises(TypeError, match="transport must be"):
        CircuitBreakerTransport(object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="key must be callable"):
        CircuitBreakerTransport(key="origin")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="reset_timeout"):
        AsyncCircuitBreakerTransport(reset_timeout=0)
    with pytest.raises(TypeError, match="did you mean failure_tolerance"):
        CircuitBreakerTransport(failure_tolerence=1)


def test_requests_adapter(serve: Callable[[Respond], Server]) -> None:
    flaky = serve(lambda path: (429, {"Retry-After": "30"}) if path == "/throttled" else (500, {}))
    healthy = serve(lambda path: (200, {}))
    adapter = CircuitBreakerAdapter(failure_tolerance=1, reset_timeout=1, pool_maxsize=4)
    session = requests.Session()
    session.mount("http://", adapter)
    assert session.get(f"{flaky.origin}/throttled").status_code == 429
    breaker = adapter.group.get(flaky.origin)
    assert breaker.state is State.OPEN and breaker.retry_after is not None and 29 < breaker.retry_after <= 30
    with pytest.raises(CircuitOpenError):
        session.get(f"{flaky.origin}/x")
    assert session.get(f"{healthy.origin}/x").status_code == 200
    assert flaky.requests == 1
    assert adapter.group.stats()[healthy.origin].successes == 1
    session.close()


def collect_otel(reader: InMemoryMetricReader) -> Dict[str, Dict[str, Any]]:
    out: Dict[str, Dict[str, Any]] = {}
    data = reader.get_metrics_data()
    if data is None:
        return out
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                points = out.setdefault(metric.name, {})
                for point in metric.data.data_points:
                    points[",".join(f"{k}={v}" for k, v in sorted(point.attributes.items()))] = point.value  # type: ignore[union-attr]
    return out


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def exercise(breaker: CircuitBreaker, clock: Clock) -> None:
    """Success, release, timeout, failure (opening it), rejection, then half-open."""
    breaker.call(lambda: "ok")
    permit = breaker.try_acquire()
    assert permit is not None
    permit.release()

    async def hang() -> None:
        await asyncio.sleep(10)

    with pytest.raises(CallTimeoutError):
        asyncio.run(breaker.call_async(hang))

    def boom() -> None:
        raise ConnectionError("boom")

    with pytest.raises(ConnectionError):
        breaker.call(boom)
    with pytest.raises(CircuitOpenError):
        breaker.call(lambda: "never")
    clock.now = 1.0
    assert breaker.state is State.HALF_OPEN


def expected_calls(name: str) -> Dict[str, int]:
    return {f"breaker={name},outcome={o}": 1 for o in ("success", "failure", "rejected", "released", "timeout")}


def expected_state(name: str, current: str) -> Dict[str, int]:
    return {f"breaker={name},state={s.value}": int(s.value == current) for s in State}


def expected_transitions(name: str) -> Dict[str, int]:
    return {
        f"breaker={name},from=closed,reason=failure_tolerance_exceeded,to=open": 1,
        f"breaker={name},from=open,reason=reset_timeout_elapsed,to=half_open": 1,
    }


def new_breaker(name: str, clock: Clock) -> CircuitBreaker:
    return CircuitBreaker(name=name, failure_tolerance=1, reset_timeout=1, call_timeout=0.01, clock=clock)


def test_opentelemetry_state_calls_and_transitions() -> None:
    clock = Clock()
    breaker = new_breaker("payments", clock)
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    handle = instrument(breaker, provider.get_meter("test"))
    exercise(breaker, clock)
    points = collect_otel(reader)
    assert points["tripgate.breaker.state"] == expected_state("payments", "half_open")
    assert points["tripgate.breaker.calls"] == expected_calls("payments")
    assert points["tripgate.breaker.transitions"] == expected_transitions("payments")
    handle.close()
    handle.close()
    breaker.force_open()
    after = collect_otel(reader)
    assert after.get("tripgate.breaker.state", {}).get("breaker=payments,state=forced_open", 0) == 0, "closed: no longer observed"
    provider.shutdown()


def test_opentelemetry_covers_a_groups_breakers_as_they_come() -> None:
    group = CircuitBreakerGroup(max_breakers=1, failure_tolerance=0)
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    instrument(group, provider.get_meter("test"))
    group.call("a.example", lambda: 1)
    assert collect_otel(reader)["tripgate.breaker.calls"]["breaker=a.example,outcome=success"] == 1
    evicted = group.get("a.example")

    def boom() -> None:
        raise ConnectionError("x")

    with pytest.raises(ConnectionError):
        group.call("b.example", boom)
    evicted.call(lambda: 2)
    points = collect_otel(reader)
    assert points["tripgate.breaker.state"]["breaker=b.example,state=open"] == 1
    assert points["tripgate.breaker.calls"].get("breaker=a.example,outcome=success", 1) == 1, "the evicted breaker is not observed"
    with pytest.raises(TypeError, match="breaker_or_group must be"):
        instrument(object(), provider.get_meter("x"))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="meter must be"):
        instrument(group, object())  # type: ignore[arg-type]
    provider.shutdown()


def parse_prometheus(registry: CollectorRegistry) -> Dict[str, Dict[str, float]]:
    out: Dict[str, Dict[str, float]] = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            out.setdefault(sample.name, {})[labels] = sample.value
    return out


def test_prometheus_collector_of_a_breaker() -> None:
    clock = Clock()
    breaker = new_breaker("payments", clock)
    registry = CollectorRegistry()
    collector = BreakerCollector(breaker)
    registry.register(collector)
    exercise(breaker, clock)
    text = generate_latest(registry).decode()
    assert "# TYPE tripgate_breaker_state gauge" in text
    assert "# TYPE tripgate_breaker_calls_total counter" in text or "# TYPE tripgate_breaker_calls counter" in text
    samples = parse_prometheus(registry)
    assert samples["tripgate_breaker_state"] == expected_state("payments", "half_open")
    assert samples["tripgate_breaker_calls_total"] == expected_calls("payments")
    assert samples["tripgate_breaker_transitions_total"] == expected_transitions("payments")
    with pytest.raises(ValueError, match="Duplicated"):
        registry.register(BreakerCollector(breaker))
    collector.close()
    registry.unregister(collector)


def test_prometheus_collector_of_a_group_drops_evicted_breakers() -> None:
    group = CircuitBreakerGroup(max_breakers=1)
    registry = CollectorRegistry()
    registry.register(BreakerCollector(group))
    group.call("a.example", lambda: 1)
    assert parse_prometheus(registry)["tripgate_breaker_calls_total"]["breaker=a.example,outcome=success"] == 1
    group.call("b.example", lambda: 1)
    calls = parse_prometheus(registry)["tripgate_breaker_calls_total"]
    assert not any("a.example" in labels for labels in calls)
    assert calls["breaker=b.example,outcome=success"] == 1
