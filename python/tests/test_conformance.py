"""The Python runner of the language-neutral scenarios in tests/conformance/.

Every scenario file on disk runs through the public API twice, with an
injected clock, listeners for transitions and rejections, and stats: once
with the two-step ``try_acquire``, and once with whole asyncio calls
through ``call_async``, each permit of the scenario a call awaiting a future
that the runner settles at the step that reports it (success resolves,
failure raises ``ConnectionError``, release raises an excluded error). The
format is described in tests/conformance/README.md.
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
import pathlib
from typing import Any, Callable, Dict, List, Optional, Tuple

import jsonschema
import pytest
from tripgate import CircuitBreaker, CircuitBreakerGroup, CircuitOpenError, InvalidSnapshotError, Permit, _native

SCENARIOS = pathlib.Path(__file__).resolve().parents[2] / "tests" / "conformance" / "scenarios"
FILES = sorted(SCENARIOS.glob("*.json"))
# The durations (milliseconds in scenarios, seconds in Python), by their last
# name part, from the core's option kinds.
# The durations (milliseconds in scenarios, seconds in Python): the machine's, and the binding's call_timeout.
MS_OPTIONS = {name.split(".")[-1] for name, kind in zip(_native.OPTION_NAMES, _native.OPTION_KINDS, strict=True) if kind == "duration"} | {"call_timeout"}
RAN: List[str] = []
SCHEMA = jsonschema.Draft202012Validator(json.loads((SCENARIOS.parent / "schema.json").read_text()))


def seconds_options(config: Dict[str, Any]) -> Dict[str, Any]:
    """Scenario config (milliseconds) as Python options (seconds)."""

    def convert(key: str, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: convert(k, v) for k, v in value.items()}
        if key in MS_OPTIONS and isinstance(value, (int, float)) and not isinstance(value, bool):
            return value / 1000
        return value

    return {k: convert(k, v) for k, v in config.items()}


def with_call_timeout(scenario: Dict[str, Any]) -> Dict[str, Any]:
    """The scenario's config with its call_timeout, a binding option beside the machine's."""
    if "call_timeout" not in scenario:
        return dict(scenario["config"])
    return {**scenario["config"], "call_timeout": scenario["call_timeout"]}


def ms(value: Any) -> Any:
    return None if value is None else value * 1000


def matches(expected: Any, actual: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and matches(v, actual[k]) for k, v in expected.items())
    if isinstance(expected, list):
        return isinstance(actual, list) and len(expected) == len(actual) and all(map(matches, expected, actual))
    if isinstance(expected, bool) or expected is None:
        # True must not match 1, nor False 0 or None.
        return expected is actual
    if isinstance(expected, (int, float)):
        is_number = isinstance(actual, (int, float)) and not isinstance(actual, bool)
        return is_number and math.isclose(expected, actual, rel_tol=1e-12, abs_tol=1e-6)
    return type(expected) is type(actual) and bool(expected == actual)


class Released(Exception):
    """What a call settled by a `release` step raises; the calls-mode breaker excludes it."""


class Failed(ConnectionError):
    """What a call settled by a `failure` step raises; a step's Retry-After
    hint (seconds) rides on it, for the breaker's `retry_after_hint`."""

    def __init__(self, retry_after: Optional[float]) -> None:
        super().__init__("failed by the scenario")
        self.retry_after = retry_after


class Run:
    def __init__(self, config: Dict[str, Any], calls: bool = False) -> None:
        self.calls = calls
        self.loop = asyncio.new_event_loop() if calls else None
        self.futures: Dict[str, Any] = {}
        self.now = 0.0
        self.config = config
        self.transitions: List[Dict[str, Any]] = []
        self.rejections: List[Any] = []
        self.permits: Dict[str, Permit] = {}
        self.owner: Dict[str, CircuitBreaker] = {}
        self.snapshots: Dict[str, Dict[str, Any]] = {}
        self.breaker = self.attach(CircuitBreaker(**self.options(config)))

    def options(self, config: Dict[str, Any]) -> Dict[str, Any]:
        options = {**seconds_options(config), "clock": lambda: self.now}
        hint = lambda error: error.retry_after  # noqa: E731
        return {**options, "exclude": (Released,), "retry_after_hint": hint} if self.calls else options

    def run_loop(self) -> None:
        assert self.loop is not None
        for _ in range(3):
            self.loop.run_until_complete(asyncio.sleep(0))

    def call(self, label: str) -> Dict[str, Any]:
        """A whole call, admitted if its function starts; it waits for its report step."""
        assert self.loop is not None
        owner, heard = self.breaker, len(self.rejections)
        trials_before = owner.stats().trials_in_flight
        future: asyncio.Future[str] = self.loop.create_future()
        started: List[bool] = []

        async def work() -> str:
            started.append(True)
            return await future

        task = self.loop.create_task(owner.call_async(work))
        self.run_loop()
        if not started:
            assert task.done() and isinstance(task.exception(), CircuitOpenError), task
            assert len(self.rejections) == heard + 1, "a rejection emitted no rejected event"
            error = task.exception()
            assert isinstance(error, CircuitOpenError)
            return {"admitted": False, "state": error.state.value, "retry_after": ms(error.retry_after)}
        self.futures[label] = (future, task)
        self.owner[label] = owner
        return {"admitted": True, "trial": owner.stats().trials_in_flight > trials_before}

    def attach(self, breaker: CircuitBreaker) -> CircuitBreaker:
        breaker.add_listener(
            "state_change",
            lambda t: self.transitions.append({"from": t.from_state, "to": t.to_state, "reason": t.reason, "at": t.at * 1000, "generation": t.generation}),
        )
        breaker.add_listener("rejected", self.rejections.append)
        return breaker

    def acquire(self, label: str) -> Dict[str, Any]:
        if self.calls:
            return self.call(label)
        heard = len(self.rejections)
        permit = self.breaker.try_acquire()
        if permit is None:
            # This rejection's own event, not an older one.
            assert len(self.rejections) == heard + 1, "a rejection emitted no rejected event"
            rejection = self.rejections[-1]
            return {"admitted": False, "state": rejection.state, "retry_after": ms(rejection.retry_after)}
        self.permits[label] = permit
        self.owner[label] = self.breaker
        return {"admitted": True, "trial": permit.is_trial}

    def report(self, op: str, label: str, hint: Optional[float]) -> Dict[str, Any]:
        owner = self.owner.pop(label)
        before = owner.stats()
        if self.calls:
            future, task = self.futures.pop(label)
            if op == "success":
                future.set_result("ok")
            else:
                future.set_exception(Failed(hint) if op == "failure" else Released())
            self.run_loop()
            assert task.done(), "a settled call still hangs"
            assert (task.exception() is None) == (op == "success"), (op, task)
        else:
            permit = self.permits.pop(label)
            if op == "failure":
                permit.failure(retry_after=hint)
            else:
                getattr(permit, {"success": "success", "release": "release"}[op])()
        after = owner.stats()
        return {
            # A permit of a breaker that was replaced by a restore can change
            # nothing in the restored one: that is what stale means here.
            "stale": owner is not self.breaker or after.stale_outcomes > before.stale_outcomes,
            "slow": after.slow_calls > before.slow_calls,
        }

    def step(self, step: Dict[str, Any]) -> Any:
        self.now = step["at"] / 1000
        op, label = step["op"], step.get("permit", "")
        b = self.breaker
        if op == "acquire":
            return self.acquire(label)
        if op == "acquire_many":
            counts = {"admitted": 0, "rejected": 0}
            for _ in range(step["count"]):
                outcome = self.acquire(f"{label}{counts['admitted']}")
                counts["admitted" if outcome["admitted"] else "rejected"] += 1
            return counts
        if op in ("success", "failure", "release"):
            hint = step.get("retry_after")
            return self.report(op, label, None if hint is None else hint / 1000)
        if op == "state":
            return b.state.value
        if op == "retry_after":
            return ms(b.retry_after)
        if op == "stats":
            stats = b.stats()
            return {
                **stats.__dict__,
                "state": stats.state.value,
                "last_transition_at": ms(stats.last_transition_at),
                "retry_after": ms(stats.retry_after),
            }
        if op in ("force_open", "force_closed", "reset"):
            getattr(b, op)()
            return None
        if op == "transitions":
            drained, self.transitions = self.transitions, []
            return drained
        if op == "snapshot":
            snapshot = b.snapshot()
            json.dumps(snapshot)  # JSON-serializable as promised
            self.snapshots[step.get("name", "")] = snapshot
            return snapshot
        if op == "restore":
            snapshot = self.snapshots[step["name"]] if "name" in step else step["snapshot"]
            config = step.get("config", self.config)
            try:
                restored = CircuitBreaker.restore(snapshot, **self.options(config))
            except InvalidSnapshotError as e:
                return {"error": {"code": e.code, "field": e.field}}
            self.breaker, self.config = self.attach(restored), config
            return {"restored": True}
        raise AssertionError(f"unknown op {op!r}")


def python_option_value(expected_option: str, value: Any) -> Any:
    leaf = expected_option.split(".")[-1]
    return value / 1000 if leaf in MS_OPTIONS and isinstance(value, (int, float)) else value


def error_name(error: Optional[BaseException]) -> Optional[str]:
    """An error as scenarios name it: its code (tripgate's errors) or its message."""
    if error is None:
        return None
    return getattr(error, "code", None) or str(error)


def describe_event(event: str, payload: Any) -> List[str]:
    """An event as scenarios write it: [name, ...details]."""
    if event == "state_change":
        return [event, payload.from_state, payload.to_state, payload.reason]
    if event == "rejected":
        return [event, payload.state]
    if event in ("failure", "fallback") and payload.error is not None:
        return [event, error_name(payload.error) or ""]
    return [event]


class CallRun:
    """A whole-call scenario (what the bindings own): every permit is a
    ``call_async`` call that the runner settles by returning, raising or
    letting it time out; predicates and a fallback come from the scenario."""

    def __init__(self, scenario: Dict[str, Any]) -> None:
        self.loop = asyncio.new_event_loop()
        self.now = 0.0
        self.events: List[List[str]] = []
        self.calls: Dict[str, Tuple[Any, Any]] = {}
        self.rejection: Any = None
        self.answered: Optional[BaseException] = None
        options: Dict[str, Any] = {**seconds_options(scenario["config"]), "clock": lambda: self.now}
        classify = scenario.get("classify")
        if classify is not None:
            raises_on = set(classify.get("predicate_raises_on", []))

            def predicate(listed: List[str]) -> Callable[[str], bool]:
                def decide(subject: str) -> bool:
                    if subject in raises_on:
                        raise RuntimeError(f"a predicate that raises on {subject}")
                    return subject in listed

                return decide

            failing, ignored = predicate(classify.get("failing_results", [])), predicate(classify.get("ignored_errors", []))
            options["is_result_failure"] = failing
            options["is_failure"] = lambda error: not ignored(str(error))
        if scenario.get("fallback"):

            def fallback(error: BaseException) -> str:
                self.answered = error
                return f"fallback for {error_name(error)}"

            options["fallback"] = fallback
        if "call_timeout" in scenario:
            options["call_timeout"] = scenario["call_timeout"] / 1000
        self.breaker = CircuitBreaker(**options)
        for event in ("state_change", "success", "failure", "rejected", "timeout", "fallback"):
            self.breaker.add_listener(event, functools.partial(self.heard, event))

    def heard(self, event: str, payload: Any) -> None:
        self.events.append(describe_event(event, payload))
        if event == "rejected":
            self.rejection = payload

    def finish(self, task: Any) -> Dict[str, Any]:
        """What the caller of ``task`` got: resolved, or rejected_with (and the error)."""
        self.loop.run_until_complete(asyncio.wait([task]))
        error = task.exception()
        if error is None:
            return {"resolved": task.result()}
        return {"rejected_with": error_name(error), "error": error}

    def call(self, label: str) -> Dict[str, Any]:
        future = self.loop.create_future()
        started: List[bool] = []

        async def work() -> Any:
            started.append(True)
            return await future

        self.answered = None
        task = self.loop.create_task(self.breaker.call_async(work))
        for _ in range(3):
            self.loop.run_until_complete(asyncio.sleep(0))
        if started:
            self.calls[label] = (future, task)
            return {"admitted": True}
        ended = self.finish(task)
        error = self.answered if self.answered is not None else ended.get("error")
        assert isinstance(error, CircuitOpenError), error
        cause = error.__cause__
        return {
            "admitted": False,
            "state": self.rejection.state,
            "retry_after": ms(self.rejection.retry_after),
            "cause": None if cause is None else str(cause),
            **({"resolved": ended["resolved"]} if "resolved" in ended else {}),
        }

    def settle(self, label: str, settle_with: Callable[[Any], None]) -> Dict[str, Any]:
        future, task = self.calls.pop(label)
        before = self.breaker.stats()
        settle_with(future)
        ended = self.finish(task)
        after = self.breaker.stats()
        outcome = next(
            name
            for name, counter in (("success", "successes"), ("failure", "failures"), ("released", "released"))
            if getattr(after, counter) > getattr(before, counter)
        )
        ended.pop("error", None)
        return {"outcome": outcome, **ended}

    def step(self, step: Dict[str, Any]) -> Any:
        self.now = step["at"] / 1000
        op, b = step["op"], self.breaker
        if op == "call":
            return self.call(step["permit"])
        if op == "return":
            return self.settle(step["permit"], lambda future: future.set_result(step["value"]))
        if op == "raise":
            return self.settle(step["permit"], lambda future: future.set_exception(ConnectionError(step["error"])))
        if op == "time_out":
            return self.settle(step["permit"], lambda future: None)
        if op == "events":
            drained, self.events = self.events, []
            return drained
        if op == "state":
            return b.state.value
        if op == "stats":
            stats = b.stats()
            return {**stats.__dict__, "state": stats.state.value, "last_transition_at": ms(stats.last_transition_at), "retry_after": ms(stats.retry_after)}
        if op in ("force_open", "force_closed", "reset"):
            getattr(b, op)()
            return None
        raise AssertionError(f"op {op} is not one of a whole-call scenario")

    def close(self) -> None:
        for future, _task in self.calls.values():
            future.cancel()
        for _ in range(3):
            self.loop.run_until_complete(asyncio.sleep(0))
        self.loop.close()


def run_steps(run: Any, scenario: Dict[str, Any], how: str) -> None:
    for index, step in enumerate(scenario["steps"]):
        actual = run.step(step)
        if "expect" in step:
            assert matches(step["expect"], actual), f"{how}: step {index} ({step['op']}): expected {step['expect']}, got {actual}"


def run_group(scenario: Dict[str, Any]) -> None:
    """A group scenario's steps through CircuitBreakerGroup (see schema.json, group_step)."""
    group = CircuitBreakerGroup(max_breakers=scenario["group"]["max_breakers"], **seconds_options(scenario["config"]))
    held: Dict[str, Permit] = {}

    def fail() -> None:
        raise Failed("the scenario's failing call")

    for index, step in enumerate(scenario["group"]["steps"]):
        where = f"step {index} ({step['op']} {step.get('key', '')})"
        error: Optional[BaseException] = None
        try:
            op, key = step["op"], step.get("key", "")
            if op == "get":
                group.get(key)
            elif op == "call_succeeds":
                assert group.call(key, lambda: "ok") == "ok", where
            elif op == "call_fails":
                with pytest.raises(Failed):
                    group.call(key, fail)
            elif op == "hold":
                permit = group.get(key).try_acquire()
                assert permit is not None, where
                held[key] = permit
            elif op == "settle_held":
                held.pop(key).success()
            elif op == "force_closed":
                group.get(key).force_closed()
            elif op == "keys":
                assert group.keys() == step["expect"], where
        except Exception as caught:
            error = caught
        if "expect_error" in step:
            assert getattr(error, "code", None) == step["expect_error"], f"{where}: {error!r}"
        elif error is not None:
            raise error


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_scenario(path: pathlib.Path) -> None:
    scenario = json.loads(path.read_text())
    SCHEMA.validate(scenario)
    assert scenario["name"] == path.stem
    expected_error = scenario.get("expect_config_error")
    if expected_error:
        error_type = {"type": TypeError, "range": ValueError}[expected_error["kind"]]
        with pytest.raises(error_type) as raised:
            CircuitBreaker(**seconds_options(with_call_timeout(scenario)))
        message = str(raised.value)
        assert message.startswith(expected_error["option"] + " "), message
        if "value" in expected_error:
            shown = repr(python_option_value(expected_error["option"], expected_error["value"]))
            assert shown in message, (shown, message)
    elif scenario.get("group"):
        run_group(scenario)
    elif scenario.get("whole_calls"):
        call_run = CallRun(scenario)
        try:
            run_steps(call_run, scenario, "whole calls")
        finally:
            call_run.close()
    else:
        for calls in (False, True):
            run = Run(scenario["config"], calls)
            try:
                run_steps(run, scenario, "call_async" if calls else "try_acquire")
            finally:
                if run.loop is not None:
                    for future, _task in run.futures.values():
                        future.cancel()
                    run.run_loop()
                    run.loop.close()
    RAN.append(path.stem)


def test_the_schema_refuses_a_step_without_its_expectation() -> None:
    scenario = json.loads((SCENARIOS / "half_open_trial_success_closes.json").read_text())
    SCHEMA.validate(scenario)
    for op in ("acquire", "success"):
        step = next(s for s in scenario["steps"] if s["op"] == op)
        for spoil in (lambda s: s.pop("expect"), lambda s: s["expect"].pop(next(iter(s["expect"])))):
            spoiled = json.loads(json.dumps(scenario))
            spoil(next(s for s in spoiled["steps"] if s["op"] == op))
            assert not SCHEMA.is_valid(spoiled), (op, step)


def test_matches_compares_types() -> None:
    assert not matches(True, 1) and not matches(1, True) and not matches(False, None) and not matches(None, 0)
    assert matches({"a": 1}, {"a": 1.0, "b": 2}) and not matches({"a": 1}, {})


def test_every_scenario_file_ran() -> None:
    # Runs last in this module (pytest keeps definition order).
    assert len(FILES) >= 40
    assert sorted(RAN) == [p.stem for p in FILES], "a scenario file was not run"


VECTORS = json.loads((SCENARIOS.parent / "snapshot_vectors.json").read_text())


@pytest.mark.parametrize("vector", VECTORS["valid"], ids=lambda v: v["name"])
def test_snapshot_vector_restores_and_snapshots_as_the_core_writes_it(vector: Dict[str, Any]) -> None:
    at = vector["at"] / 1000
    breaker = CircuitBreaker.restore(vector["snapshot"], **seconds_options(vector["config"]), clock=lambda: at)
    assert json.dumps(breaker.snapshot(), separators=(",", ":")) == vector["restored_snapshot"]


@pytest.mark.parametrize("vector", VECTORS["invalid"], ids=lambda v: v["name"])
def test_snapshot_vector_is_refused_naming_its_field(vector: Dict[str, Any]) -> None:
    with pytest.raises(InvalidSnapshotError) as raised:
        CircuitBreaker.restore(vector["snapshot"], **seconds_options(vector["config"]))
    assert raised.value.field == vector["field"]
