"""``CircuitBreaker``: the Python face of the native breaker.

The native class (``tripgate._native.Breaker``, from ``bindings-python/``)
holds the core state machine and does the per-call work; this class adds
what belongs to Python: decorators for sync and async functions, ``with``
and ``async with``, asyncio call timeouts, and the typed results
(``State``, ``Stats``, snapshots as dicts). No state decision is made here.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import json
import time
from types import MappingProxyType, TracebackType
from typing import (
    TYPE_CHECKING,
    Any,
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Iterable,
    Mapping,
    Optional,
    Tuple,
    Type,
    TypeVar,
    Union,
    overload,
)

from . import _native
from ._errors import CircuitOpenError
from ._types import Backoff, FailureRate, State, Stats

if TYPE_CHECKING:
    from typing_extensions import ParamSpec

    P = ParamSpec("P")

T = TypeVar("T")
Listener = Callable[[Any], object]


class GuardedFunction(_native.Guarded):
    """What ``@breaker`` returns for a sync function: a native callable
    that makes each call through the breaker. A Python subclass, so that the
    attributes ``functools.update_wrapper`` copies (``__wrapped__``, ...) live
    in an instance dict the garbage collector sees."""


class CircuitBreaker(_native.Breaker):
    """A circuit breaker. Every option is keyword-only; times are seconds.

    Use it as a decorator (on sync and async functions), with ``call`` /
    ``call_async``, as a context manager (``with`` / ``async with``), or
    with the two-step ``try_acquire()``. Its options are fixed at
    construction: assigning an attribute raises ``AttributeError``.
    """

    __slots__ = ("__weakref__", "_entered")

    def __init__(
        self,
        *,
        failure_tolerance: int = 5,
        failure_rate: Union[FailureRate, Mapping[str, Any], None] = None,
        slow_call_duration: Optional[float] = None,
        reset_timeout: float = 30.0,
        backoff: Union[Backoff, Mapping[str, Any], None] = None,
        half_open_max_calls: int = 1,
        success_threshold: int = 1,
        trial_timeout: float = 30.0,
        max_retry_after: float = 300.0,
        call_timeout: Optional[float] = None,
        is_failure: Optional[Callable[[BaseException], object]] = None,
        is_result_failure: Optional[Callable[[Any], object]] = None,
        retry_after_hint: Optional[Callable[[Any], Optional[float]]] = None,
        fallback: Optional[Callable[[Exception], Any]] = None,
        exclude: Union[Type[BaseException], Iterable[Type[BaseException]]] = (),
        clock: Callable[[], float] = time.monotonic,
        name: Optional[str] = None,
        seed: Optional[int] = None,
    ) -> None:
        # The options were taken by the native __new__; this only sets up the
        # permits that `with breaker:` holds, per thread and per task.
        self._entered: contextvars.ContextVar[Tuple[_native.Permit, ...]] = contextvars.ContextVar(f"tripgate-entered-{id(self)}", default=())

    # ---- state and stats -------------------------------------------------

    @property
    def state(self) -> State:
        """The current state (applying any transition that has come due)."""
        return State(super().state)

    def stats(self) -> Stats:
        """Cumulative counters and the current view."""
        raw = self._stats()
        raw["state"] = State(raw["state"])
        return Stats(**raw)

    # ---- calls ------------------------------------------------------------

    @overload
    def __call__(self, func: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]: ...

    @overload
    def __call__(self, func: Callable[P, T]) -> Callable[P, T]: ...

    def __call__(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Decorates a function so that every call goes through the breaker;
        the result keeps ``func``'s name, docstring and signature.

        A sync function, a coroutine function (or an object whose
        ``__call__`` is one), a generator function and an async generator
        function are each guarded as what they are: for generators, the call
        is the whole iteration, admitted when it starts, counted when it
        finishes or raises, and released when it is closed early.
        """
        if not callable(func):
            raise TypeError(f"CircuitBreaker decorates a callable, got {func!r}")
        if inspect.isasyncgenfunction(func):
            return functools.wraps(func)(self._guard_async_generator(func))
        if inspect.isgeneratorfunction(func):
            return functools.wraps(func)(self._guard_generator(func))
        if _is_coroutine_function(func):
            return functools.wraps(func)(self._guard_async(func))
        return functools.update_wrapper(GuardedFunction(self, func), func)

    def _guard_generator(self, func: Callable[..., Generator[Any, Any, Any]]) -> Callable[..., Generator[Any, Any, Any]]:
        def guarded(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
            permit = self._acquire()
            try:
                result = yield from func(*args, **kwargs)
            except BaseException as error:
                # GeneratorExit (closed early) releases the permit.
                permit._settle_exception(error)
                raise
            permit._settle_result(result)
            return result

        return guarded

    def _guard_async_generator(self, func: Callable[..., AsyncIterator[Any]]) -> Callable[..., AsyncIterator[Any]]:
        async def guarded(*args: Any, **kwargs: Any) -> Any:
            permit = self._acquire()
            try:
                # `yield from` for an async generator: values sent and
                # exceptions thrown in reach the guarded one.
                inner: Any = func(*args, **kwargs)
                sent: Any = None
                thrown: Optional[BaseException] = None
                while True:
                    try:
                        item = await (inner.athrow(thrown) if thrown is not None else inner.asend(sent))
                    except StopAsyncIteration:
                        break
                    thrown = None
                    try:
                        sent = yield item
                    except GeneratorExit:
                        await inner.aclose()
                        raise
                    except BaseException as error:
                        thrown = error
            except BaseException as error:
                permit._settle_exception(error)
                raise
            permit._settle_result(None)

        return guarded

    def _guard_async(self, func: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        if self.call_timeout is not None or self._fallback is not None:

            async def guarded_with_timeout(*args: Any, **kwargs: Any) -> Any:
                return await self.call_async(func, *args, **kwargs)

            return guarded_with_timeout
        # The hot path of an async call: the steps of call_async inlined, the
        # bound methods looked up once, and the permit an int where that is
        # all it needs to be.
        begin, end = self._begin, self._end

        async def guarded(*args: Any, **kwargs: Any) -> Any:
            token = begin()
            try:
                result = await func(*args, **kwargs)
            except BaseException as error:
                end(token, error, True)
                raise
            end(token, result, False)
            return result

        return guarded

    async def call_async(self, func: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
        """Awaits ``func(*args, **kwargs)`` if the breaker admits it.

        With ``call_timeout``, a call still running after it is cancelled and
        ``CallTimeoutError`` is raised (a failure). Cancelling the caller
        releases the permit without counting. With a ``fallback``, a call
        that would raise an ``Exception`` (``CircuitOpenError``,
        ``CallTimeoutError`` or the call's own, counted or not) returns the
        fallback's answer instead (awaited when it is awaitable).
        """
        try:
            permit = self._acquire()
        except CircuitOpenError as rejected:
            if self._fallback is None:
                raise
            return await self._fall_back(rejected)  # type: ignore[no-any-return]
        try:
            if self.call_timeout is None:
                result = await func(*args, **kwargs)
            else:
                result = await _within(func(*args, **kwargs), self.call_timeout)
        except BaseException as error:
            if isinstance(error, _TimedOut):
                timeout_error = permit._timeout_error()
                permit._settle_timeout(timeout_error)
                if self._fallback is None:
                    raise timeout_error from None
                return await self._fall_back(timeout_error)  # type: ignore[no-any-return]
            permit._settle_exception(error)
            # Cancellation and interrupts are the caller's, never answered.
            if self._fallback is not None and isinstance(error, Exception):
                return await self._fall_back(error)  # type: ignore[no-any-return]
            raise
        permit._settle_result(result)
        return result

    async def _fall_back(self, error: BaseException) -> Any:
        """The fallback's answer to ``error`` (the ``fallback`` event first)."""
        fallback = self._fallback
        assert fallback is not None
        self._emit_fallback(error)
        answer = fallback(error)
        if inspect.isawaitable(answer):
            answer = await answer
        return answer

    # ---- context managers -------------------------------------------------

    def guard(self) -> Guard:
        """A context manager for one use (``with breaker.guard():`` or
        ``async with breaker.guard():``): it takes a permit on entry, counts
        the block's outcome on exit, and holds its own permit whatever else
        runs meanwhile on the same thread (generators interleaving blocks)."""
        return Guard(self)

    def __enter__(self) -> CircuitBreaker:
        self._entered.set((*self._entered.get(), self._acquire()))
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        entered = self._entered.get()
        if not entered:
            raise RuntimeError("CircuitBreaker.__exit__ without a matching __enter__ in this context")
        self._entered.set(entered[:-1])
        entered[-1].__exit__(exc_type, exc, traceback)

    async def __aenter__(self) -> CircuitBreaker:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        self.__exit__(exc_type, exc, traceback)

    # ---- options ------------------------------------------------------------

    @property
    def options(self) -> Mapping[str, Any]:
        """The breaker's effective options, defaults filled in, read-only
        (times in seconds; ``seed`` is the one in use, given or drawn)."""
        raw = self._options()
        if raw["failure_rate"] is not None:
            raw["failure_rate"] = FailureRate(**raw["failure_rate"])
        if raw["backoff"] is not None:
            raw["backoff"] = Backoff(**raw["backoff"])
        if raw["clock"] is None:
            raw["clock"] = time.monotonic
        return MappingProxyType(raw)

    # ---- snapshots ----------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The breaker's state as a JSON-serializable dict (the snapshot
        format shared by every language; times relative to now)."""
        snapshot: dict[str, Any] = json.loads(self._snapshot_json())
        return snapshot

    @classmethod
    def restore(cls, snapshot: Mapping[str, Any], **options: Any) -> CircuitBreaker:
        """A breaker with ``options`` in the state ``snapshot`` describes.
        Raises ``InvalidSnapshotError`` for a snapshot it cannot restore."""
        if not isinstance(snapshot, Mapping):
            raise TypeError(f"snapshot must be a dict, got {snapshot!r}")
        # The native constructor starts from the snapshot: one machine built.
        _native._restore_next(dict(snapshot))
        try:
            return cls(**options)
        finally:
            _native._restore_next(None)

    def __repr__(self) -> str:
        name = f" {self.name!r}" if self.name else ""
        return f"<CircuitBreaker{name} state={self.state.value}>"


def _is_coroutine_function(func: Callable[..., Any]) -> bool:
    """A coroutine function, or an object whose ``__call__`` is one."""
    if inspect.iscoroutinefunction(func):
        return True
    call = type(func).__call__
    return not inspect.isfunction(func) and not inspect.ismethod(func) and inspect.iscoroutinefunction(call)


class Guard:
    """One use of a breaker as a context manager (``breaker.guard()``): its
    own permit, taken on entry and reported on exit. Not reusable."""

    __slots__ = ("_breaker", "_permit")

    def __init__(self, breaker: CircuitBreaker) -> None:
        self._breaker = breaker
        self._permit: Optional[_native.Permit] = None

    def __enter__(self) -> _native.Permit:
        if self._permit is not None:
            raise RuntimeError("a Guard is for one use: call breaker.guard() again")
        self._permit = self._breaker._acquire()
        return self._permit

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        if self._permit is None:
            raise RuntimeError("Guard.__exit__ without __enter__")
        self._permit.__exit__(exc_type, exc, traceback)

    async def __aenter__(self) -> _native.Permit:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        self.__exit__(exc_type, exc, traceback)


class _TimedOut(Exception):
    """The call outlived call_timeout (internal: becomes CallTimeoutError)."""


async def _within(awaitable: Awaitable[T], timeout: float) -> T:
    """Awaits ``awaitable`` for at most ``timeout`` seconds; past that, cancels
    it and raises ``_TimedOut``. Unlike ``asyncio.wait_for``, a ``TimeoutError``
    raised by the call itself stays the call's own error."""
    task = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait((task,), timeout=timeout)
    except BaseException:
        task.cancel()
        raise
    if task in done:
        return task.result()
    task.cancel()
    # The abandoned call's late result or error is ignored (and retrieved, so
    # asyncio does not warn that it never was).
    task.add_done_callback(lambda t: t.cancelled() or t.exception())
    raise _TimedOut()
