"""What the HTTP integrations (``tripgate.httpx``, ``tripgate.requests``)
share: the default key (a URL's origin), the default failure (a 5xx or
429 response) and the Retry-After hint of a 429 or 503 response. They
convert; every decision is the breakers'."""

from __future__ import annotations

import email.utils
import time
from typing import Any, Callable, Dict, Mapping, Optional, Tuple
from urllib.parse import urlsplit

from ._group import CircuitBreakerGroup

_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, the port left out where it is the
    scheme's default (as a browser's ``URL.origin``)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    scheme = parts.scheme.lower()
    if port is None or _DEFAULT_PORTS.get(scheme) == port:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def is_server_failure(response: Any) -> bool:
    """The default failure: a 5xx response, or 429 Too Many Requests."""
    status: int = response.status_code
    return status >= 500 or status == 429


def parse_retry_after(value: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """The seconds a ``Retry-After`` header value asks for: delta-seconds or
    an HTTP date (RFC 9110, section 10.2.3); None when it is neither."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit() and text.isascii():
        return float(int(text))
    try:
        at = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if at is None or at.tzinfo is None:
        return None
    return max(0.0, at.timestamp() - (time.time() if now is None else now))


def retry_after_of_response(failed: Any) -> Optional[float]:
    """The default hint: the Retry-After of a 429 or 503 response."""
    status = getattr(failed, "status_code", None)
    headers = getattr(failed, "headers", None)
    if status not in (429, 503) or headers is None:
        return None
    return parse_retry_after(headers.get("retry-after"))


def group_for(
    key: Optional[Callable[[Any], Any]],
    is_result_failure: Optional[Callable[[Any], object]],
    options: Mapping[str, Any],
    default_key: Callable[[Any], Any],
) -> Tuple[Callable[[Any], Any], CircuitBreakerGroup]:
    """The key function and the group of an HTTP integration: the defaults
    filled in, each option checked."""
    for option, value in (("key", key), ("is_result_failure", is_result_failure)):
        if value is not None and not callable(value):
            raise TypeError(f"{option} must be callable or None, got {value!r}")
    group_options: Dict[str, Any] = {"retry_after_hint": retry_after_of_response, **options}
    group_options["is_result_failure"] = is_result_failure or is_server_failure
    return key or default_key, CircuitBreakerGroup(**group_options)
