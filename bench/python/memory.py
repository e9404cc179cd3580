"""Memory per idle breaker (issue "Smaller and faster", "Also measure"): bytes
traced by tracemalloc (Python objects) and the growth of the resident set
(which includes the native machine) for 10,000 breakers with default
options, and with a 1,000-call failure-rate window. Run with
`.venv/bin/python bench/python/memory.py` after `make python-build`.
"""

from __future__ import annotations

import gc
import os
import tracemalloc
from typing import Any, Dict

from tripgate import CircuitBreaker, FailureRate

COUNT = 10_000
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


kept: list[list[CircuitBreaker]] = []


def measure(options: Dict[str, Any]) -> tuple[float, float]:
    """Per-breaker growth for COUNT more breakers, kept alive: the resident
    set first (tracemalloc off, as it adds its own), then the Python objects
    traced by tracemalloc for as many again."""
    gc.collect()
    before = rss()
    kept.append([CircuitBreaker(**options) for _ in range(COUNT)])
    gc.collect()
    resident = (rss() - before) / COUNT
    tracemalloc.start()
    before_py, _ = tracemalloc.get_traced_memory()
    kept.append([CircuitBreaker(**options) for _ in range(COUNT)])
    gc.collect()
    after_py, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return (after_py - before_py) / COUNT, resident


for name, options in [
    ("default options", {}),
    ("1,000-call window", {"failure_rate": FailureRate(threshold=0.5, minimum_calls=10, window_calls=1_000)}),
]:
    traced, resident = measure(options)
    print(
        f"{name}: {resident:.0f} B of resident set per breaker (native machine included), of which {traced:.0f} B are Python objects traced by tracemalloc ({COUNT:,} breakers)"
    )
