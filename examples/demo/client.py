"""The Python client of the demo: httpx (asyncio) through a breaker (5xx are
failures, call_timeout cancels the request). Prints one JSON line per event.

    python examples/demo/client.py URL SECONDS
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any, Dict

import httpx

from tripgate import Backoff, CallTimeoutError, CircuitBreaker, CircuitOpenError, StateChange


def emit(**event: Any) -> None:
    print(json.dumps({"client": "python", **event}), flush=True)


async def main(url: str, seconds: float) -> None:
    breaker = CircuitBreaker(
        name="python",
        failure_tolerance=3,
        reset_timeout=1.0,
        backoff=Backoff(multiplier=2.0, max_reset_timeout=4.0, jitter=0.1),
        call_timeout=0.5,
        is_result_failure=lambda response: response.status_code >= 500,
    )
    t0 = time.monotonic()

    def on_change(change: StateChange) -> None:
        emit(event="state", **{"from": change.from_state}, to=change.to_state, reason=change.reason, t=time.monotonic() - t0)

    breaker.add_listener("state_change", on_change)
    counts: Dict[str, float] = {"made": 0, "ok": 0, "failed": 0, "timedOut": 0, "rejected": 0, "waitedMs": 0.0}
    async with httpx.AsyncClient(headers={"x-client": "python"}) as client:
        while time.monotonic() - t0 < seconds:
            start = time.monotonic()
            try:
                response = await breaker.call_async(client.get, url)
                counts["made"] += 1
                counts["ok" if response.status_code < 500 else "failed"] += 1
            except CircuitOpenError:
                counts["rejected"] += 1
            except CallTimeoutError:
                counts["made"] += 1
                counts["timedOut"] += 1
            except httpx.HTTPError:
                counts["made"] += 1
                counts["failed"] += 1
            counts["waitedMs"] += (time.monotonic() - start) * 1000
            await asyncio.sleep(0.1)
    emit(event="done", state=breaker.state.value, **counts)


if __name__ == "__main__":
    try:
        asyncio.run(main(sys.argv[1], float(sys.argv[2])))
    except KeyboardInterrupt:
        sys.exit(130)  # Ctrl-C: the demo is stopping everything
