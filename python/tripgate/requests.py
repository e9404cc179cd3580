"""A requests adapter with one circuit breaker per origin (``pip install
tripgate[requests]``). Importing ``tripgate`` never imports this module or
requests.

>>> import requests
>>> from tripgate.requests import CircuitBreakerAdapter
>>> session = requests.Session()
>>> session.mount("https://", CircuitBreakerAdapter(failure_tolerance=3))

A counted 5xx or 429 response is returned to the caller as usual (it only
counts as a failure); a rejection raises ``CircuitOpenError`` itself.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import requests
import requests.adapters

from ._http import group_for, origin

_ADAPTER_OPTIONS = ("pool_connections", "pool_maxsize", "max_retries", "pool_block")


class CircuitBreakerAdapter(requests.adapters.HTTPAdapter):
    """An ``HTTPAdapter`` whose requests go through one breaker per
    ``key(url)`` (default: the URL's origin; ``url`` is the request's URL as
    a str), exposed as ``self.group``. Options: ``key``,
    ``is_result_failure(response)`` (default: status >= 500 or 429), every
    ``CircuitBreaker`` and ``CircuitBreakerGroup`` option, and
    ``HTTPAdapter``'s own (``pool_connections``, ``pool_maxsize``,
    ``max_retries``, ``pool_block``)."""

    def __init__(
        self,
        *,
        key: Optional[Callable[[str], Any]] = None,
        is_result_failure: Optional[Callable[[requests.Response], object]] = None,
        **options: Any,
    ) -> None:
        adapter_options = {name: options.pop(name) for name in _ADAPTER_OPTIONS if name in options}
        self._key, self.group = group_for(key, is_result_failure, options, origin)
        super().__init__(**adapter_options)

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        breaker = self.group.get(self._key(request.url or ""))
        response: requests.Response = breaker.call(super().send, request, *args, **kwargs)
        return response

    def __getstate__(self) -> Any:
        raise TypeError("a CircuitBreakerAdapter cannot be pickled: its breakers guard live calls")
