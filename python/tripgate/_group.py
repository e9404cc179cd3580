"""``CircuitBreakerGroup``: one breaker per key (an origin, a host, an
endpoint), created on first use with the group's options, at most
``max_breakers`` of them, the least recently used idle one evicted first.
Every decision about a call is still its breaker's; the group finds the
breaker and forwards its events with the key.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import Any, Awaitable, Callable, Dict, Hashable, List, Protocol, TypeVar

from ._breaker import CircuitBreaker
from ._errors import GroupFullError
from ._native import EVENTS, MESSAGES
from ._types import Stats

T = TypeVar("T")
Listener = Callable[[Any], object]

_DEFAULT_MAX_BREAKERS = 1000
_log = logging.getLogger("tripgate")


class GroupEvent:
    """A breaker's event as a group listener receives it: the event's own
    attributes (``from_state``, ``duration``, ``error``, ...) and ``key``."""

    __slots__ = ("event", "key")

    def __init__(self, key: Hashable, event: Any) -> None:
        self.key = key
        #: The breaker's own event object.
        self.event = event

    def __getattr__(self, name: str) -> Any:
        return getattr(self.event, name)

    def __repr__(self) -> str:
        return f"GroupEvent(key={self.key!r}, event={self.event!r})"


class GroupWatcher(Protocol):
    """What integrations (``tripgate.otel``, ``tripgate.prometheus``) pass to
    ``CircuitBreakerGroup._watch``."""

    def added(self, key: Hashable, breaker: CircuitBreaker) -> None: ...

    def removed(self, key: Hashable, breaker: CircuitBreaker) -> None: ...


class _Entry:
    __slots__ = ("breaker", "forwarders")

    def __init__(self, breaker: CircuitBreaker) -> None:
        self.breaker = breaker
        #: event -> the callback forwarding it to the group's listeners.
        self.forwarders: Dict[str, Listener] = {}


class CircuitBreakerGroup:
    """One ``CircuitBreaker`` per key, created on first use with the group's
    options and ``name=str(key)``. Keys are any hashable values.

    When the group holds ``max_breakers`` breakers, the least recently used
    one that is closed with no call in flight is evicted to make room (a
    caller still holding it keeps a working, detached breaker); open,
    half-open and forced breakers are never evicted, and a new key then
    raises ``GroupFullError`` (a ``TripgateError`` with code ``group_full``).
    Safe to use from many threads.
    """

    def __init__(self, *, max_breakers: int = _DEFAULT_MAX_BREAKERS, **options: Any) -> None:
        if isinstance(max_breakers, bool) or not isinstance(max_breakers, int):
            raise TypeError(f"max_breakers must be an int, got {max_breakers!r}")
        if max_breakers < 1:
            raise ValueError(f"max_breakers must be at least 1, got {max_breakers!r}")
        if "name" in options:
            raise TypeError("name is not an option of CircuitBreakerGroup: each breaker is named by its key")
        # Checked once here, so that a bad option fails the group, not its first call.
        CircuitBreaker(**options)
        self._options = options
        self._max_breakers = max_breakers
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._listeners: Dict[str, List[Listener]] = {}
        self._watchers: List[GroupWatcher] = []
        self._lock = threading.RLock()

    @property
    def max_breakers(self) -> int:
        """The most breakers the group holds."""
        return self._max_breakers

    def get(self, key: Hashable) -> CircuitBreaker:
        """The breaker of ``key``, created on first use."""
        hash(key)  # an unhashable key is a TypeError here, before anything changes
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                return entry.breaker
            if len(self._entries) >= self._max_breakers:
                self._evict_one()
            breaker = CircuitBreaker(**self._options, name=str(key))
            entry = _Entry(breaker)
            self._entries[key] = entry
            for event in self._listeners:
                self._forward(key, entry, event)
            watchers = list(self._watchers)
        for watcher in watchers:
            watcher.added(key, breaker)
        return breaker

    def _evict_one(self) -> None:
        for key, entry in self._entries.items():
            if entry.breaker._idle():
                self._remove(key)
                return
        raise GroupFullError(MESSAGES["group_full"].format(limit=self._max_breakers, limit_option="max_breakers"))

    def call(self, key: Hashable, func: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Calls ``func(*args, **kwargs)`` through the breaker of ``key``."""
        result: T = self.get(key).call(func, *args, **kwargs)
        return result

    async def call_async(self, key: Hashable, func: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
        """Awaits ``func(*args, **kwargs)`` through the breaker of ``key``."""
        return await self.get(key).call_async(func, *args, **kwargs)

    def keys(self) -> List[Hashable]:
        """The keys that have a breaker, least recently used first."""
        with self._lock:
            return list(self._entries)

    def delete(self, key: Hashable) -> bool:
        """Removes the breaker of ``key``; True if there was one. A caller
        still holding it keeps a working breaker, detached from the group."""
        with self._lock:
            if key not in self._entries:
                return False
            self._remove(key)
            return True

    def _remove(self, key: Hashable) -> None:
        entry = self._entries.pop(key)
        for event, forwarder in entry.forwarders.items():
            entry.breaker.remove_listener(event, forwarder)
        for watcher in list(self._watchers):
            watcher.removed(key, entry.breaker)

    def stats(self) -> Dict[Hashable, Stats]:
        """Every breaker's stats, by key."""
        with self._lock:
            breakers = [(key, entry.breaker) for key, entry in self._entries.items()]
        return {key: breaker.stats() for key, breaker in breakers}

    def add_listener(self, event: str, callback: Listener) -> None:
        """Calls ``callback(GroupEvent)`` on ``event`` of every breaker of the
        group, now and later; the ``GroupEvent`` has the breaker's ``key``."""
        if event not in EVENTS:
            raise ValueError(f"event must be one of {', '.join(EVENTS)}, got {event!r}")
        if not callable(callback):
            raise TypeError(f"callback must be callable, got {callback!r}")
        with self._lock:
            listeners = self._listeners.get(event)
            if listeners is None:
                listeners = self._listeners[event] = []
                for key, entry in self._entries.items():
                    self._forward(key, entry, event)
            listeners.append(callback)

    def remove_listener(self, event: str, callback: Listener) -> None:
        """Removes one registration of ``callback``; a ``ValueError`` if it
        is not listening to ``event``."""
        with self._lock:
            listeners = self._listeners.get(event, [])
            if callback not in listeners:
                raise ValueError(f"that callback is not listening to {event!r}")
            listeners.remove(callback)
            if not listeners:
                # No group listener is left: the breakers stop forwarding (a
                # success or failure listener costs every call its timing).
                del self._listeners[event]
                for entry in self._entries.values():
                    forwarder = entry.forwarders.pop(event, None)
                    if forwarder is not None:
                        entry.breaker.remove_listener(event, forwarder)

    def _forward(self, key: Hashable, entry: _Entry, event: str) -> None:
        def forward(payload: Any) -> None:
            keyed = GroupEvent(key, payload)
            for callback in list(self._listeners.get(event, ())):
                try:
                    callback(keyed)
                except Exception:
                    _log.exception("tripgate: a %r listener of a CircuitBreakerGroup raised", event)

        entry.forwarders[event] = forward
        entry.breaker.add_listener(event, forward)

    def _watch(self, watcher: GroupWatcher) -> Callable[[], None]:
        """For integrations: calls ``watcher.added(key, breaker)`` for every
        breaker, now and as one is created, and ``watcher.removed(key,
        breaker)`` as one is evicted or deleted; returns a function that
        stops it."""
        with self._lock:
            self._watchers.append(watcher)
            current = [(key, entry.breaker) for key, entry in self._entries.items()]
        for key, breaker in current:
            watcher.added(key, breaker)

        def stop() -> None:
            with self._lock:
                if watcher in self._watchers:
                    self._watchers.remove(watcher)

        return stop

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __repr__(self) -> str:
        return f"<CircuitBreakerGroup {len(self._entries)}/{self._max_breakers} breakers>"
