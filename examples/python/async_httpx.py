"""An asyncio service calling a flaky HTTP dependency with httpx: many
concurrent requests, a call timeout that cancels hung calls, and the
breaker keeping the load off the dependency while it is down. Runs against
a local server it starts.

    python examples/python/async_httpx.py      (in the project's .venv)
"""

from __future__ import annotations

import asyncio
from typing import List, Union

import httpx
from tripgate import CallTimeoutError, CircuitBreaker, CircuitOpenError


class Dependency:
    hanging = True
    requests = 0


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    Dependency.requests += 1
    if Dependency.hanging:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            writer.close()  # the server is shutting down: drop the hung request
            return
    body = b"ok"
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n" + body)
    await writer.drain()
    writer.close()


async def main() -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
    breaker = CircuitBreaker(name="search", failure_tolerance=1, reset_timeout=0.3, call_timeout=0.1)

    async with httpx.AsyncClient() as client:

        @breaker
        async def search() -> str:
            response = await client.get(url)
            response.raise_for_status()
            return response.text

        async def attempt() -> Union[str, type]:
            try:
                return await search()
            except (CircuitOpenError, CallTimeoutError) as error:
                return type(error)

        first: List[Union[str, type]] = [await attempt(), await attempt()]
        burst = await asyncio.gather(*(attempt() for _ in range(50)))
        print(f"  hung dependency: {[getattr(r, '__name__', r) for r in first]}, then {len(burst)} calls rejected at once")
        print(f"  requests that reached the dependency: {Dependency.requests}")
        assert first == [CallTimeoutError, CallTimeoutError] and all(r is CircuitOpenError for r in burst)
        assert Dependency.requests == 2

        Dependency.hanging = False
        await asyncio.sleep(0.35)
        results = await asyncio.gather(*(attempt() for _ in range(3)))
        print(f"  after recovery: {[getattr(r, '__name__', r) for r in results]}, state {breaker.state.value}")
        assert "ok" in results and breaker.state.value == "closed"
    server.close()
    await server.wait_closed()


if __name__ == "__main__":
    asyncio.run(main())
