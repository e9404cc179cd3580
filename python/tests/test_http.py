"""Against a real HTTP server on 127.0.0.1 that fails and then recovers: the
breaker opens, stops calls from reaching the server (the server counts
them), and closes after recovery. With urllib, httpx and httpx's async client."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from typing import Callable, Iterator

import httpx
import pytest
from _servers import Server
from tripgate import CircuitBreaker, CircuitOpenError, State


class FlakyService(Server):
    """Answers 503 until ``healthy`` is set, then 200."""

    def __init__(self) -> None:
        self.healthy = False
        super().__init__(lambda path: (200, {}, b"ok") if self.healthy else (503, {}, b"unavailable"))
        self.url = f"{self.origin}/"

    def close(self) -> None:
        self.stop()


@pytest.fixture
def service() -> Iterator[FlakyService]:
    s = FlakyService()
    yield s
    s.close()


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def drive(service: FlakyService, breaker: CircuitBreaker, clock: Clock, call: Callable[[], bool]) -> None:
    """`call` returns whether the service answered well, or raises."""
    outcomes = []
    for _ in range(10):
        try:
            outcomes.append("ok" if call() else "failed")
        except CircuitOpenError:
            outcomes.append("rejected")
        except Exception:
            outcomes.append("failed")
    # failure_tolerance=2: the third failure opens the breaker; the other
    # seven calls never reach the server.
    assert outcomes == ["failed"] * 3 + ["rejected"] * 7
    assert service.requests == 3
    assert breaker.state is State.OPEN

    service.healthy = True
    clock.now += 5
    call()  # the trial
    assert breaker.state is State.CLOSED
    for _ in range(5):
        call()
    assert service.requests == 3 + 1 + 5
    stats = breaker.stats()
    assert (stats.rejections, stats.failures, stats.successes) == (7, 3, 6)


def test_urllib(service: FlakyService) -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_tolerance=2, reset_timeout=5.0, clock=clock)

    @breaker
    def fetch() -> bytes:
        with urllib.request.urlopen(service.url, timeout=5) as response:
            body: bytes = response.read()
            return body

    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(service.url, timeout=5)
    service.requests = 0
    drive(service, breaker, clock, lambda: fetch() == b"ok")


def test_httpx_sync(service: FlakyService) -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_tolerance=2, reset_timeout=5.0, clock=clock, is_result_failure=lambda r: r.status_code >= 500)
    with httpx.Client(timeout=5) as client:
        # 503s are returned, not raised: is_result_failure counts them.
        drive(service, breaker, clock, lambda: breaker.call(client.get, service.url).status_code < 500)


def test_httpx_async(service: FlakyService) -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_tolerance=2, reset_timeout=5.0, clock=clock, call_timeout=5.0)

    async def main() -> None:
        async with httpx.AsyncClient(timeout=5) as client:

            @breaker
            async def fetch() -> str:
                response = await client.get(service.url)
                response.raise_for_status()
                return response.text

            outcomes = []
            for _ in range(10):
                try:
                    await fetch()
                    outcomes.append("ok")
                except CircuitOpenError:
                    outcomes.append("rejected")
                except httpx.HTTPStatusError:
                    outcomes.append("failed")
            assert outcomes == ["failed"] * 3 + ["rejected"] * 7
            assert service.requests == 3
            service.healthy = True
            clock.now += 5
            assert await fetch() == "ok"
            assert breaker.state is State.CLOSED
            results = await asyncio.gather(*(fetch() for _ in range(5)))
            assert results == ["ok"] * 5
            assert service.requests == 9

    asyncio.run(main())
