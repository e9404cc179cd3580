"""A sync service calling a flaky HTTP dependency with urllib: the breaker
opens after repeated failures, answers at once while the dependency is down,
and closes when it recovers. Runs against a local server it starts.

    python examples/python/sync_urllib.py      (in the project's .venv)
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

from tripgate import CircuitBreaker, CircuitOpenError, StateChange

state = {"healthy": False, "requests": 0}


class Dependency(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        state["requests"] += 1
        self.send_response(200 if state["healthy"] else 503)
        self.end_headers()
        self.wfile.write(b"42" if state["healthy"] else b"down")

    def log_message(self, *args: Any) -> None:
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Dependency)
threading.Thread(target=server.serve_forever, daemon=True).start()
URL = f"http://127.0.0.1:{server.server_address[1]}/stock"


def is_failure(error: BaseException) -> bool:
    # A 4xx is the caller's mistake, not the dependency's: not counted.
    return not (isinstance(error, urllib.error.HTTPError) and error.code < 500)


breaker = CircuitBreaker(name="stock", failure_tolerance=2, reset_timeout=0.2, is_failure=is_failure)


def report(change: StateChange) -> None:
    print(f"  breaker: {change.from_state} -> {change.to_state} ({change.reason})")


breaker.add_listener("state_change", report)


@breaker
def fetch_stock() -> int:
    with urllib.request.urlopen(URL, timeout=2) as response:
        return int(response.read())


def stock_or_none() -> Optional[int]:
    try:
        return fetch_stock()
    except CircuitOpenError:
        return None  # answer at once while the dependency is down
    except urllib.error.HTTPError:
        return None


def main() -> None:
    try:
        answers = [stock_or_none() for _ in range(6)]
        print(f"  while down: {answers}; requests that reached the dependency: {state['requests']}")
        assert state["requests"] == 3 and breaker.state.value == "open", state
        state["healthy"] = True
        time.sleep(0.25)
        stock = stock_or_none()
        print(f"  after recovery: {stock}; state {breaker.state.value}")
        assert stock == 42 and breaker.state.value == "closed"
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
