"""tripgate against pybreaker, circuitbreaker, aiobreaker and purgatory: the
overhead each adds to a call, as ratios measured so that they hold on a
noisy 2-core machine. Run with `make bench-python`.

Method (docs/benchmarks.md, "Method"):
- the driver (this file without --worker) starts PROCESSES worker
  processes, half running the implementations in one order and half in the
  reverse order;
- a worker warms every loop up, then runs ROUNDS rounds; a round measures,
  for each scenario, the bare call, every implementation in the worker's
  order, and the bare call again, so each round has its own baseline;
- each loop is compiled from its own source text, so that CPython's
  specialising interpreter never shares a call site between implementations;
- every asyncio figure comes from one event loop per process (the default
  policy), timed inside the coroutine, the same loop for every
  implementation;
- an implementation's overhead in a round is its time per call minus that
  round's bare call; a ratio (tripgate's overhead over a peer's) is taken
  within a round; the driver reports the median over every round of every
  process and the spread (lowest and highest per-process median). A target
  is met only when the whole spread meets it.

Scenarios: a sync closed call; an awaited asyncio closed call; a call
rejected by an open breaker (opened by real failures), raise and catch
included, over a plain call; two threads calling one breaker at once.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import gc
import json
import statistics
import subprocess
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Sequence, Tuple

CALLS = {"sync": 50_000, "asyncio": 20_000, "rejection": 10_000, "two_threads": 50_000}
SCENARIOS = list(CALLS)
IMPLEMENTATIONS = ["tripgate", "pybreaker", "circuitbreaker", "aiobreaker", "purgatory"]
# pybreaker's async support needs Tornado.
NOT_MEASURED = {("pybreaker", "asyncio")}

# What docs/benchmarks.md holds the Python package to: tripgate's overhead over the peer's.
TARGETS: List[Tuple[str, str, float, str]] = [
    ("sync", "circuitbreaker", 0.5, "keep: half the best peer"),
    ("asyncio", "circuitbreaker", 0.4, "issue 13"),
    ("rejection", "circuitbreaker", 0.5, "keep: half the best peer"),
]

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def bare() -> int:
    return 1


async def bare_async() -> int:
    return 1


def failing() -> None:
    raise ConnectionError("down")


# ---- worker -------------------------------------------------------------------


def make_decorators() -> Dict[str, Callable[[], Decorator]]:
    """A fresh breaker per use, each with a tolerance of 5 failures."""
    import aiobreaker
    import circuitbreaker
    import purgatory
    import pybreaker
    import tripgate

    def purgatory_sync() -> Decorator:
        factory = purgatory.SyncCircuitBreakerFactory(default_threshold=5, default_ttl=30)
        factory.initialize()
        return factory("bench")  # type: ignore[no-any-return]

    return {
        "tripgate": lambda: tripgate.CircuitBreaker(failure_tolerance=5, reset_timeout=30.0),
        "pybreaker": lambda: pybreaker.CircuitBreaker(fail_max=5, reset_timeout=30),
        "circuitbreaker": lambda: circuitbreaker.circuit(failure_threshold=5, recovery_timeout=30),
        "aiobreaker": lambda: aiobreaker.CircuitBreaker(fail_max=5, timeout_duration=datetime.timedelta(seconds=30)),
        "purgatory": purgatory_sync,
    }


def make_async_decorators(loop: asyncio.AbstractEventLoop, sync: Dict[str, Callable[[], Decorator]]) -> Dict[str, Callable[[], Decorator]]:
    import purgatory

    def purgatory_async() -> Decorator:
        factory = purgatory.AsyncCircuitBreakerFactory(default_threshold=5, default_ttl=30)
        loop.run_until_complete(factory.initialize())
        return factory("bench")  # type: ignore[no-any-return]

    return {**sync, "purgatory": purgatory_async}


def opened(make: Callable[[], Decorator]) -> Callable[[], Any]:
    """A call through an open breaker (opened by real failures)."""
    breaker = make()
    guarded_failing = breaker(failing)
    for _ in range(10):
        try:
            guarded_failing()
        except Exception:
            pass
    guarded = breaker(bare)
    try:
        guarded()
    except Exception:
        return guarded
    raise AssertionError("the breaker did not open")


LOOP_SOURCES = {
    "sync": "def loop(n):\n    for _ in range(n):\n        call()\n",
    "rejection": "def loop(n):\n    for _ in range(n):\n        try:\n            call()\n        except Exception:\n            pass\n",
    "asyncio": ("async def loop(n):\n    start = perf_counter_ns()\n    for _ in range(n):\n        await call()\n    return perf_counter_ns() - start\n"),
}


def compile_loop(scenario: str, name: str, call: Callable[[], Any]) -> Callable[[int], Any]:
    """A loop of its own code object (a distinct file name) around `call`."""
    kind = "sync" if scenario == "two_threads" else scenario
    namespace: Dict[str, Any] = {"call": call, "perf_counter_ns": time.perf_counter_ns}
    exec(compile(LOOP_SOURCES[kind], f"<{scenario} {name}>", "exec"), namespace)
    return namespace["loop"]  # type: ignore[no-any-return]


def worker(order_name: str, rounds: int) -> Dict[str, Any]:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    sync_makers = make_decorators()
    async_makers = make_async_decorators(loop, sync_makers)
    calls: Dict[str, Dict[str, Callable[[], Any]]] = {scenario: {} for scenario in SCENARIOS}
    calls["sync"]["bare"] = calls["rejection"]["bare"] = calls["two_threads"]["bare"] = bare
    calls["asyncio"]["bare"] = bare_async
    for name in IMPLEMENTATIONS:
        calls["sync"][name] = sync_makers[name]()(bare)
        calls["two_threads"][name] = sync_makers[name]()(bare)
        calls["rejection"][name] = opened(sync_makers[name])
        if (name, "asyncio") not in NOT_MEASURED:
            calls["asyncio"][name] = async_makers[name]()(bare_async)
    loops = {s: {name: compile_loop(s, name, call) for name, call in calls[s].items()} for s in SCENARIOS}

    def sample(scenario: str, name: str) -> float:
        n = CALLS[scenario]
        body = loops[scenario][name]
        gc.collect()
        if scenario == "asyncio":
            return loop.run_until_complete(body(n)) / n  # type: ignore[no-any-return]
        if scenario == "two_threads":
            barrier = threading.Barrier(3)

            def half() -> None:
                barrier.wait()
                body(n // 2)

            threads = [threading.Thread(target=half) for _ in range(2)]
            for thread in threads:
                thread.start()
            barrier.wait()
            start = time.perf_counter_ns()
            for thread in threads:
                thread.join()
            return (time.perf_counter_ns() - start) / n
        start = time.perf_counter_ns()
        body(n)
        return (time.perf_counter_ns() - start) / n

    order = IMPLEMENTATIONS if order_name == "forward" else IMPLEMENTATIONS[::-1]
    for _ in range(2):
        for scenario in SCENARIOS:
            for name in loops[scenario]:
                sample(scenario, name)
    measured: List[Dict[str, Any]] = []
    for _ in range(rounds):
        for scenario in SCENARIOS:
            before = sample(scenario, "bare")
            ns = {name: sample(scenario, name) for name in order if name in loops[scenario]}
            after = sample(scenario, "bare")
            measured.append({"scenario": scenario, "bare": (before + after) / 2, "ns": ns})
    loop.close()
    return {"order": order_name, "rounds": measured}


# ---- driver -------------------------------------------------------------------


def spread(runs: Sequence[Dict[str, Any]], scenario: str, measure: Callable[[Dict[str, Any]], float]) -> Tuple[float, float, float]:
    """Median over every round of every run, and the lowest and highest per-run median."""
    per_run = [[measure(r) for r in run["rounds"] if r["scenario"] == scenario] for run in runs]
    medians = [statistics.median(values) for values in per_run]
    return statistics.median([v for values in per_run for v in values]), min(medians), max(medians)


def driver(processes: int, rounds: int) -> None:
    runs = []
    for p in range(processes):
        order = "forward" if p % 2 == 0 else "reverse"
        print(f"process {p + 1} of {processes} ({order} order)", file=sys.stderr)
        out = subprocess.run(
            [sys.executable, __file__, "--worker", order, "--rounds", str(rounds)],
            capture_output=True,
            text=True,
        )
        if out.returncode != 0:
            raise SystemExit(f"worker failed ({out.returncode}):\n{out.stderr}")
        runs.append(json.loads(out.stdout))

    print(f"Python {sys.version.split()[0]}; {processes} processes (half in reverse order) x {rounds} rounds;")
    print("overhead = ns per call minus the same round's bare call (rejection: over a plain call, raise and catch included);")
    print("median over all rounds [lowest - highest per-process median]\n")
    print(f"| implementation | {' | '.join(SCENARIOS)} |")
    print(f"| --- | {' | '.join('---:' for _ in SCENARIOS)} |")

    def cell(scenario: str, measure: Callable[[Dict[str, Any]], float]) -> str:
        median, low, high = spread(runs, scenario, measure)
        return f"{median:.0f} [{low:.0f} - {high:.0f}]"

    for name in IMPLEMENTATIONS:
        cells = [
            "n/a" if (name, s) in NOT_MEASURED else cell(s, lambda r, name=name: r["ns"][name] - r["bare"])  # type: ignore[misc]
            for s in SCENARIOS
        ]
        print(f"| {name} | {' | '.join(cells)} |")
    print(f"| (bare call, ns) | {' | '.join(cell(s, lambda r: r['bare']) for s in SCENARIOS)} |")

    print("\ntripgate's overhead over each peer's, per round (lower is better): median [spread]\n")
    peers = [name for name in IMPLEMENTATIONS if name != "tripgate"]
    print(f"| peer | {' | '.join(SCENARIOS)} |")
    print(f"| --- | {' | '.join('---:' for _ in SCENARIOS)} |")
    for peer in peers:
        cells = []
        for s in SCENARIOS:
            if (peer, s) in NOT_MEASURED:
                cells.append("n/a")
                continue
            median, low, high = spread(runs, s, lambda r, peer=peer: (r["ns"]["tripgate"] - r["bare"]) / (r["ns"][peer] - r["bare"]))  # type: ignore[misc]
            cells.append(f"{median:.2f}x [{low:.2f} - {high:.2f}]")
        print(f"| {peer} | {' | '.join(cells)} |")

    print("\n| scenario | peer | ratio: median [spread] | target | met |")
    print("| --- | --- | ---: | ---: | --- |")
    for scenario, peer, at_most, why in TARGETS:
        median, low, high = spread(runs, scenario, lambda r: (r["ns"]["tripgate"] - r["bare"]) / (r["ns"][peer] - r["bare"]))  # noqa: B023
        met = "met" if high <= at_most else ("not met (median only)" if median <= at_most else "not met")
        print(f"| {scenario} | {peer} | {median:.2f}x [{low:.2f} - {high:.2f}] | <= {at_most:.2f}x ({why}) | {met} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", choices=["forward", "reverse"], help="run one worker process (used by the driver)")
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    if args.worker:
        json.dump(worker(args.worker, args.rounds), sys.stdout)
    else:
        driver(args.processes, args.rounds)


if __name__ == "__main__":
    main()
