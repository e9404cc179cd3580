"""A bounded soak and a property-based fuzz of the Python API (issue
"Hardening"): random interleavings of sync calls, failures, two-step permits
(reported or dropped), suspended generators closed early, asyncio calls
settled or cancelled, ``guard()`` blocks, forced states, a clock that raises
or lies, listeners that raise or re-enter, and snapshot/restore, across
several breakers. After every step, for every breaker ever made:
admitted == successes + failures + released + in_flight, and in_flight is
exactly the number of permits and calls the test still holds.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import random
import time
from typing import Any, Dict, List, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tripgate import Backoff, CircuitBreaker, CircuitOpenError, FailureRate

CONFIGS: List[Dict[str, Any]] = [
    dict(failure_tolerance=1, reset_timeout=0.05, half_open_max_calls=2),
    dict(failure_tolerance=3, failure_rate=FailureRate(0.5, 4, window_calls=8), slow_call_duration=0.03, reset_timeout=0.04),
    dict(failure_tolerance=0, success_threshold=2, trial_timeout=0.1, reset_timeout=0.02, backoff=Backoff(2.0, 0.2, 0.5), seed=7),
    dict(failure_rate=FailureRate(0.3, 2, window_duration=0.1), half_open_max_calls=3, reset_timeout=0.03),
]

KINDS = ["advance", "clock", "call", "call", "acquire", "report", "generator", "close", "task", "task", "settle", "guard", "force", "listener", "restore"]

Op = Tuple[str, int, int]


@pytest.fixture(autouse=True)
def quiet_tripgate_logger() -> Any:
    """The raising listeners and clocks are logged by design; thousands of tracebacks would only slow the run."""
    logger = logging.getLogger("tripgate")
    logger.disabled = True
    yield
    logger.disabled = False


class Entry:
    def __init__(self, breaker: CircuitBreaker, options: Dict[str, Any]) -> None:
        self.breaker = breaker
        self.options = options
        self.permits: List[Any] = []
        self.generators: List[Any] = []
        self.tasks: List[Tuple[asyncio.Task[Any], asyncio.Future[Any]]] = []
        self.live = 0  # generators suspended inside and tasks waiting inside their call


class World:
    def __init__(self) -> None:
        self.now = 0.0
        self.clock_mode = "ok"
        self.entries: List[Entry] = []
        self.loop = asyncio.new_event_loop()

    def clock(self) -> float:
        if self.clock_mode == "raise":
            raise OSError("clock broken")
        if self.clock_mode == "nan":
            return math.nan
        if self.clock_mode == "inf":
            return math.inf
        return self.now

    def make(self, config: int) -> Entry:
        options = {**CONFIGS[config % len(CONFIGS)], "clock": self.clock}
        entry = Entry(CircuitBreaker(**options), options)
        self.entries.append(entry)
        return entry

    def pick(self, index: int) -> Entry:
        newest = min(8, len(self.entries))
        return self.entries[-1 - index % newest]

    def run_loop(self) -> None:
        self.loop.run_until_complete(asyncio.sleep(0))
        self.loop.run_until_complete(asyncio.sleep(0))

    def apply(self, op: Op) -> None:
        kind, a, b = op
        entry = self.pick(a)
        breaker = entry.breaker
        try:
            if kind == "advance":
                self.now += b / 1000
            elif kind == "clock":
                self.clock_mode = ["ok", "ok", "raise", "nan", "inf"][b % 5]
            elif kind == "call":
                try:
                    breaker.call(_outcome, b % 3)
                except (ConnectionError, KeyError):
                    pass
            elif kind == "acquire":
                permit = breaker.try_acquire()
                if permit is not None:
                    entry.permits.append(permit)
            elif kind == "report":
                if entry.permits:
                    permit = entry.permits.pop(0)
                    if b % 4 == 3:
                        del permit  # dropped unreported: released
                    else:
                        (permit.success, permit.failure, permit.release)[b % 3]()
            elif kind == "generator":
                gen = _generator(breaker, entry)()
                if next(gen, None) is not None:
                    entry.generators.append(gen)
            elif kind == "close":
                if entry.generators:
                    gen = entry.generators.pop(0)
                    if b % 3 == 0:
                        gen.close()
                    elif b % 3 == 1:
                        list(gen)
                    else:
                        try:
                            gen.throw(ConnectionError("thrown in"))
                        except ConnectionError:
                            pass
            elif kind == "task":
                future: asyncio.Future[Any] = self.loop.create_future()
                task = self.loop.create_task(_waiting(breaker, entry, future))
                self.run_loop()
                if task.done():
                    task.exception() if not task.cancelled() else None
                else:
                    entry.tasks.append((task, future))
            elif kind == "settle":
                if entry.tasks:
                    task, future = entry.tasks.pop(0)
                    if b % 3 == 0:
                        task.cancel()
                    elif b % 3 == 1:
                        future.set_exception(ConnectionError("late"))
                    else:
                        future.set_result("late")
                    self.run_loop()
                    assert task.done(), "a settled call still hangs"
                    if not task.cancelled():
                        task.exception()
            elif kind == "guard":
                try:
                    with breaker.guard():
                        if b % 2:
                            raise ConnectionError("in the block")
                except ConnectionError:
                    pass
            elif kind == "force":
                (breaker.force_open, breaker.force_closed, breaker.reset)[b % 3]()
            elif kind == "listener":
                if b % 2:
                    breaker.add_listener(["state_change", "success", "failure", "rejected"][b % 4], _raising)

                else:

                    def re_enter(event: Any, breaker: CircuitBreaker = breaker) -> None:
                        breaker.stats()
                        if event.to_state == "forced_open":
                            breaker.reset()

                    breaker.add_listener("state_change", re_enter)
            elif kind == "restore":
                options = entry.options
                restored = CircuitBreaker.restore(breaker.snapshot(), **options)
                self.entries.append(Entry(restored, options))
            else:
                raise AssertionError(kind)
        except CircuitOpenError:
            pass  # a rejection is an outcome like any other
        except Exception as error:
            if isinstance(error, AssertionError):
                raise
            # Only a failing clock may make an operation raise here, and only with its own (or a typed) error.
            assert self.clock_mode != "ok", f"{op} raised with a working clock: {error!r}"
            assert isinstance(error, (OSError, ValueError, TypeError)) or type(error).__module__.startswith("tripgate"), repr(error)

    def check(self, where: str) -> None:
        mode, self.clock_mode = self.clock_mode, "ok"
        for i, entry in enumerate(self.entries):
            s = entry.breaker.stats()
            held = len(entry.permits) + entry.live
            assert s.admitted == s.successes + s.failures + s.released + s.in_flight, f"{where}, breaker {i}: {s}"
            assert s.in_flight == held, f"{where}, breaker {i}: in_flight {s.in_flight}, the test holds {held}"
            assert s.trials_in_flight <= s.in_flight
        self.clock_mode = mode

    def drain(self) -> None:
        self.clock_mode = "ok"
        for entry in self.entries:
            for permit in entry.permits:
                permit.release()
            entry.permits.clear()
            for gen in entry.generators:
                gen.close()
            entry.generators.clear()
            for _task, future in entry.tasks:
                future.set_result("drained")
            self.run_loop()
            assert all(task.done() for task, _ in entry.tasks), "a call hangs"
            entry.tasks.clear()
        self.check("after draining")
        assert all(e.breaker.stats().in_flight == 0 for e in self.entries)
        self.loop.close()


def _outcome(kind: int) -> str:
    if kind == 1:
        raise ConnectionError("down")
    if kind == 2:
        raise KeyError("counted too")
    return "ok"


def _raising(event: Any) -> None:
    raise RuntimeError("listener bug")


def _generator(breaker: CircuitBreaker, entry: Entry) -> Any:
    @breaker
    def numbers() -> Any:
        entry.live += 1
        try:
            yield 1
            yield 2
        finally:
            entry.live -= 1

    return numbers


async def _waiting(breaker: CircuitBreaker, entry: Entry, future: asyncio.Future[Any]) -> Any:
    @breaker
    async def call() -> Any:
        entry.live += 1
        try:
            return await future
        finally:
            entry.live -= 1

    return await call()


def run(ops: List[Op], configs: List[int]) -> None:
    world = World()
    for config in configs:
        world.make(config)
    try:
        for index, op in enumerate(ops):
            world.apply(op)
            world.check(f"after step {index} {op}")
        world.drain()
    finally:
        if not world.loop.is_closed():
            world.loop.close()


operation = st.tuples(st.sampled_from(KINDS), st.integers(0, 7), st.integers(0, 60))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(operation, max_size=60), st.lists(st.integers(0, 3), min_size=1, max_size=3))
def test_fuzz_any_sequence_of_operations_keeps_every_breakers_books(ops: List[Op], configs: List[int]) -> None:
    run(ops, configs)


def test_soak_a_long_random_interleaving_bounded_in_time() -> None:
    seed = int(os.environ.get("TRIPGATE_SOAK_SEED", time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    world = World()
    for config in range(4):
        world.make(config)
    deadline = time.monotonic() + 5.0
    steps = 0
    try:
        while time.monotonic() < deadline and steps < 20_000:
            op = (rng.choice(KINDS), rng.randrange(8), rng.randrange(61))
            world.apply(op)
            if steps % 10 == 0:
                world.check(f"step {steps} {op}")
            steps += 1
        world.drain()
    except BaseException as error:
        raise AssertionError(f"soak seed {seed} (rerun with TRIPGATE_SOAK_SEED={seed})") from error
    finally:
        if not world.loop.is_closed():
            world.loop.close()
    print(f"soak: {steps} steps over {len(world.entries)} breakers (seed {seed})")
    assert steps > 500
