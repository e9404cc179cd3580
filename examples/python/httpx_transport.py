"""An asyncio service whose httpx client has a circuit breaker per origin
(tripgate.httpx's AsyncCircuitBreakerTransport): one dependency answers
503 with Retry-After, another is healthy. The failing origin's breaker
opens at once for the time the server asked for and its requests fail
fast; the healthy origin is not affected; the service answers the
rejected requests with a cached value. Runs against local servers it starts.

    python examples/python/httpx_transport.py      (in the project's .venv)
"""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable, Dict, Tuple

import httpx
from tripgate import CircuitOpenError
from tripgate.httpx import AsyncCircuitBreakerTransport

requests_seen: Dict[str, int] = {"failing": 0, "healthy": 0}


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def answering(name: str, status: int, headers: str) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        requests_seen[name] += 1
        body = f"{name} {status}".encode()
        head = f"HTTP/1.1 {status} X\r\n{headers}Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        writer.write(head.encode() + body)
        await writer.drain()
        writer.close()

    return handle


async def start(name: str, status: int, headers: str = "") -> Tuple[asyncio.AbstractServer, str]:
    server = await asyncio.start_server(answering(name, status, headers), "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


async def main() -> None:
    failing, failing_url = await start("failing", 503, "Retry-After: 30\r\n")
    healthy, healthy_url = await start("healthy", 200)
    transport = AsyncCircuitBreakerTransport(failure_tolerance=5, reset_timeout=1.0)
    transport.group.add_listener("state_change", lambda e: print(f"  {e.key}: {e.from_state} -> {e.to_state} ({e.reason})"))
    try:
        async with httpx.AsyncClient(transport=transport) as client:
            first = await client.get(f"{failing_url}/orders")
            print(f"  first answer: {first.status_code} {first.text!r} (returned, counted as a failure)")
            breaker = transport.group.get(failing_url)
            print(f"  the failing origin's breaker is {breaker.state.value}, retry after {breaker.retry_after:.1f} s")
            assert breaker.state.value == "open" and breaker.retry_after is not None and breaker.retry_after > 29

            async def orders() -> str:
                try:
                    return (await client.get(f"{failing_url}/orders")).text
                except CircuitOpenError:
                    return "cached orders"

            answers = await asyncio.gather(*(orders() for _ in range(10)))
            healthy_answers = await asyncio.gather(*(client.get(f"{healthy_url}/") for _ in range(10)))
            print(f"  10 concurrent requests to the failing origin: {set(answers)}; it saw {requests_seen['failing']} request")
            print(f"  10 to the healthy origin: statuses {sorted({r.status_code for r in healthy_answers})}")
            assert answers == ["cached orders"] * 10 and requests_seen["failing"] == 1
            assert all(r.status_code == 200 for r in healthy_answers)
            assert transport.group.stats()[healthy_url].rejections == 0
    finally:
        for server in (failing, healthy):
            server.close()
            await server.wait_closed()


if __name__ == "__main__":
    asyncio.run(main())
