"""httpx transports with one circuit breaker per origin (``pip install
tripgate[httpx]``). Importing ``tripgate`` never imports this module or httpx.

>>> import httpx
>>> from tripgate.httpx import CircuitBreakerTransport
>>> client = httpx.Client(transport=CircuitBreakerTransport(failure_tolerance=3))

A counted 5xx or 429 response is returned to the caller as usual (it only
counts as a failure); a rejection raises ``CircuitOpenError`` itself.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import httpx

from ._http import group_for


def _origin(url: httpx.URL) -> str:
    """``scheme://host[:port]`` (the port left out where it is the default)."""
    return f"{url.scheme}://{url.netloc.decode('ascii')}"


class CircuitBreakerTransport(httpx.BaseTransport):
    """Wraps ``transport`` (default: a new ``httpx.HTTPTransport()``); its
    breakers, one per ``key(request.url)`` (default: the origin), are
    ``self.group``. Options: ``key``, ``is_result_failure(response)``
    (default: status >= 500 or 429), and every ``CircuitBreaker`` and
    ``CircuitBreakerGroup`` option; a 429 or 503's ``Retry-After`` is the
    failure's hint unless ``retry_after_hint`` is given."""

    def __init__(
        self,
        transport: Optional[httpx.BaseTransport] = None,
        *,
        key: Optional[Callable[[httpx.URL], Any]] = None,
        is_result_failure: Optional[Callable[[httpx.Response], object]] = None,
        **breaker_and_group_options: Any,
    ) -> None:
        if transport is not None and not isinstance(transport, httpx.BaseTransport):
            raise TypeError(f"transport must be an httpx.BaseTransport, got {transport!r}")
        self._key, self.group = group_for(key, is_result_failure, breaker_and_group_options, _origin)
        self._transport = transport if transport is not None else httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        breaker = self.group.get(self._key(request.url))
        response: httpx.Response = breaker.call(self._transport.handle_request, request)
        return response

    def close(self) -> None:
        self._transport.close()


class AsyncCircuitBreakerTransport(httpx.AsyncBaseTransport):
    """``CircuitBreakerTransport`` for ``httpx.AsyncClient`` (default inner
    transport: a new ``httpx.AsyncHTTPTransport()``). Cancelling a request
    releases its permit without counting it."""

    def __init__(
        self,
        transport: Optional[httpx.AsyncBaseTransport] = None,
        *,
        key: Optional[Callable[[httpx.URL], Any]] = None,
        is_result_failure: Optional[Callable[[httpx.Response], object]] = None,
        **breaker_and_group_options: Any,
    ) -> None:
        if transport is not None and not isinstance(transport, httpx.AsyncBaseTransport):
            raise TypeError(f"transport must be an httpx.AsyncBaseTransport, got {transport!r}")
        self._key, self.group = group_for(key, is_result_failure, breaker_and_group_options, _origin)
        self._transport = transport if transport is not None else httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        breaker = self.group.get(self._key(request.url))
        return await breaker.call_async(self._transport.handle_async_request, request)

    async def aclose(self) -> None:
        await self._transport.aclose()
