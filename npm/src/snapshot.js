// Snapshots cross into wasm as flat records of numbers (the binding kit's
// layout: core/src/binding/record.rs, whose field lists generated.js
// holds); this converts them to and from the JS object of the snapshot
// format (docs/semantics.md, "Snapshots"). Shapes and names are checked
// here, every number by the core. tests/fixtures/snapshots.json holds the
// Rust codec's own text for the same snapshots, and the tests check this
// conversion writes it byte for byte.

import { SNAPSHOT_COUNTERS as COUNTERS, SNAPSHOT_RECORD_HEAD as HEAD } from "./generated.js";

// Record indexes (core/src/binding/record.rs has the layout).
const RNG = HEAD.length;
const COUNTERS_AT = RNG + 2;
const WINDOW_KIND = COUNTERS_AT + COUNTERS.length;
const KINDS = [null, "calls", "buckets"];
const TWO_TO_32 = 2 ** 32;

/** The snapshot object of a record; `states` names the state indexes. */
export function snapshotObject(record, states) {
  const snapshot = {};
  HEAD.forEach((key, i) => {
    snapshot[key] = record[i];
  });
  snapshot.state = states[record[1]];
  if (Number.isNaN(snapshot.last_transition_age)) {
    snapshot.last_transition_age = null;
  }
  snapshot.rng_state = ((BigInt(record[RNG]) << 32n) | BigInt(record[RNG + 1])).toString();
  const kind = KINDS[record[WINDOW_KIND]];
  const rest = Array.from(record.subarray(WINDOW_KIND + (kind === "calls" ? 2 : 3)));
  snapshot.window =
    kind === "calls"
      ? { kind, capacity: record[WINDOW_KIND + 1], outcomes: rest.map((o) => o === 1) }
      : kind === "buckets"
        ? {
            kind,
            width: record[WINDOW_KIND + 1],
            elapsed: record[WINDOW_KIND + 2],
            buckets: Array.from({ length: rest.length / 3 }, (_, i) => ({ index: rest[3 * i], calls: rest[3 * i + 1], failures: rest[3 * i + 2] })),
          }
        : null;
  snapshot.counters = {};
  COUNTERS.forEach((key, i) => {
    snapshot.counters[key] = record[COUNTERS_AT + i];
  });
  return snapshot;
}

/**
 * The record of a snapshot object, or an empty record (which the core
 * reports as not of the snapshot format) if its shape is wrong. Unknown keys
 * are ignored, as the core's JSON reader ignores them.
 */
export function snapshotRecord(snapshot, states, [maxBuckets, maxOutcomes]) {
  const isObject = (value) => value !== null && typeof value === "object" && !Array.isArray(value);
  const number = (value) => (typeof value === "number" && !Number.isNaN(value) ? value : undefined);
  const record = [];
  for (const key of HEAD) {
    record.push(key === "state" ? states.indexOf(snapshot[key]) : key === "last_transition_age" && snapshot[key] === null ? NaN : number(snapshot[key]));
  }
  const rng = snapshot.rng_state;
  if (typeof rng !== "string" || !/^\+?[0-9]+$/.test(rng) || BigInt(rng) >= 2n ** 64n) {
    return [];
  }
  record.push(Number(BigInt(rng) >> 32n), Number(BigInt(rng) % BigInt(TWO_TO_32)));
  if (!isObject(snapshot.counters)) {
    return [];
  }
  // A version-1 snapshot has no `abandoned`: NaN tells the core it is absent.
  record.push(...COUNTERS.map((key) => (key === "abandoned" && snapshot.counters[key] === undefined ? NaN : number(snapshot.counters[key]))));
  const window = snapshot.window;
  if (window === null) {
    record.push(0);
  } else if (isObject(window) && window.kind === "calls" && Array.isArray(window.outcomes) && window.outcomes.every((o) => typeof o === "boolean")) {
    record.push(1, number(window.capacity));
    // One past the most any window holds is enough for the core to refuse
    // more; one by one, since spreading a large window into push() overflows the stack.
    for (const outcome of window.outcomes.slice(0, maxOutcomes + 1)) {
      record.push(outcome ? 1 : 0);
    }
  } else if (isObject(window) && window.kind === "buckets" && Array.isArray(window.buckets) && window.buckets.every(isObject)) {
    record.push(2, number(window.width), number(window.elapsed));
    for (const b of window.buckets.slice(0, maxBuckets + 1)) {
      record.push(number(b.index), number(b.calls), number(b.failures));
    }
  } else {
    return [];
  }
  return record.includes(undefined) || record[1] < 0 ? [] : record;
}
