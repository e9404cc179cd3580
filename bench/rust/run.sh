#!/usr/bin/env bash
# Runs the criterion benchmark N times (default 3) and prints, per scenario,
# the median over runs of criterion's median time per call, with each
# peer's ratio to tripgate's core machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-3}
results=$(mktemp)
for run in $(seq "$runs"); do
  echo "run $run of $runs" >&2
  cargo bench -q -p tripgate-bench --bench core >/dev/null 2>&1
  for f in target/criterion/*/*/new/estimates.json; do
    group=$(basename "$(dirname "$(dirname "$(dirname "$f")")")")
    name=$(basename "$(dirname "$(dirname "$f")")")
    python3 -c 'import json,sys; print(sys.argv[1], sys.argv[2], json.load(open(sys.argv[3]))["median"]["point_estimate"])' "$group" "$name" "$f"
  done >> "$results"
done
python3 - "$results" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    group, name, ns = line.split()
    runs[(group, name)].append(float(ns))
groups = sorted({g for g, _ in runs})
print(f"{'scenario':<27} {'implementation':<18} {'median ns/call':>15} {'vs recloser':>12}")
for g in groups:
    ref = statistics.median(runs[(g, "recloser")])
    for name in ["tripgate_machine", "tripgate_breaker", "recloser", "failsafe"]:
        if (g, name) in runs:
            m = statistics.median(runs[(g, name)])
            print(f"{g:<27} {name:<18} {m:>15.2f} {m / ref:>11.2f}x")
PY
rm -f "$results"
