// Behaviour of the JS API: what counts, timeouts, aborts, concurrency,
// listeners, disposal and option errors.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { CallTimeoutError, CircuitBreaker, CircuitOpenError, EVENTS, OPTION_NAMES, REASONS, STATES, TripgateError } from "../dist/index.js";

function manualClock() {
  const clock = () => clock.now;
  clock.now = 0;
  return clock;
}

async function opened(options = {}) {
  const clock = manualClock();
  const breaker = new CircuitBreaker({ failureTolerance: 0, resetTimeout: 1000, clock, ...options });
  await assert.rejects(breaker.execute(() => Promise.reject(new Error("down"))));
  assert.equal(breaker.state, "open");
  return { breaker, clock };
}

test("sync throws, rejected promises and non-Error throws all count as failures", async () => {
  const breaker = new CircuitBreaker({ failureTolerance: 10 });
  await assert.rejects(
    breaker.execute(() => {
      throw new Error("sync");
    }),
    /sync/,
  );
  await assert.rejects(
    breaker.execute(async () => {
      throw new Error("async");
    }),
    /async/,
  );
  await assert.rejects(
    breaker.execute(() => {
      throw "a string";
    }),
    (e) => e === "a string",
  );
  await assert.rejects(
    breaker.execute(() => Promise.reject(42)),
    (e) => e === 42,
  );
  assert.equal(await breaker.execute(() => "plain value"), "plain value");
  const stats = breaker.stats();
  assert.deepEqual([stats.failures, stats.successes, stats.inFlight], [4, 1, 0]);
});

test("an open breaker rejects with CircuitOpenError without calling fn", async () => {
  const { breaker } = await opened({ name: "users" });
  let called = false;
  const error = await breaker
    .execute(() => {
      called = true;
    })
    .catch((e) => e);
  assert.equal(called, false);
  assert.ok(error instanceof CircuitOpenError && error instanceof TripgateError && error instanceof Error);
  assert.deepEqual([error.name, error.code, error.state, error.retryAfter, error.breakerName], ["CircuitOpenError", "circuit_open", "open", 1000, "users"]);
  assert.match(error.message, /users.*retry after 1000\.0 ms/);
});

test("isFailure and isResultFailure decide what counts", async () => {
  const breaker = new CircuitBreaker({
    failureTolerance: 0,
    isFailure: (e) => !(e instanceof TypeError),
    isResultFailure: (res) => res.status >= 500,
  });
  await assert.rejects(
    breaker.execute(() => {
      throw new TypeError("not counted");
    }),
  );
  assert.equal(breaker.stats().released, 1);
  assert.deepEqual(await breaker.execute(() => ({ status: 200 })), { status: 200 });
  assert.equal(breaker.state, "closed");
  assert.deepEqual(await breaker.execute(async () => ({ status: 503 })), { status: 503 });
  assert.equal(breaker.state, "open");
});

test("callTimeout aborts the signal, rejects with CallTimeoutError and counts a failure", async () => {
  const breaker = new CircuitBreaker({ failureTolerance: 0, callTimeout: 20, name: "slow" });
  const timeouts = [];
  breaker.on("timeout", (t) => timeouts.push(t));
  let seenSignal;
  const error = await breaker
    .execute(({ signal }) => {
      seenSignal = signal;
      return new Promise((resolve) => setTimeout(() => resolve("late"), 200));
    })
    .catch((e) => e);
  assert.ok(error instanceof CallTimeoutError);
  assert.deepEqual([error.code, error.timeout, error.breakerName], ["call_timeout", 20, "slow"]);
  assert.equal(seenSignal.aborted, true);
  assert.equal(seenSignal.reason, error);
  assert.equal(breaker.state, "open");
  assert.equal(timeouts.length, 1);
});

test("a call the caller aborts is released, not counted", async () => {
  const breaker = new CircuitBreaker({ failureTolerance: 0 });
  const controller = new AbortController();
  const pending = breaker.execute(
    ({ signal }) => new Promise((_, reject) => signal.addEventListener("abort", () => reject(Object.assign(new Error("aborted"), { name: "AbortError" })))),
    { signal: controller.signal },
  );
  controller.abort();
  await assert.rejects(pending, { name: "AbortError" });
  const stats = breaker.stats();
  assert.deepEqual([stats.state, stats.released, stats.failures], ["closed", 1, 0]);
  // Already aborted: fn is not called and nothing is counted.
  let called = false;
  await assert.rejects(
    breaker.execute(
      () => {
        called = true;
      },
      { signal: controller.signal },
    ),
  );
  assert.equal(called, false);
  assert.equal(breaker.stats().released, 2);
});

test("1,000 concurrent calls in half-open admit exactly halfOpenMaxCalls", async () => {
  const { breaker, clock } = await opened({ halfOpenMaxCalls: 3 });
  clock.now = 1000;
  let made = 0;
  let release;
  const gate = new Promise((r) => {
    release = r;
  });
  const calls = Array.from({ length: 1000 }, () =>
    breaker.execute(async () => {
      made += 1;
      await gate;
      return "ok";
    }),
  );
  release();
  const results = await Promise.allSettled(calls);
  assert.equal(made, 3);
  assert.equal(results.filter((r) => r.status === "rejected" && r.reason instanceof CircuitOpenError).length, 997);
  assert.equal(breaker.state, "closed");
});

test("a throwing listener never changes what the breaker does", async () => {
  const breaker = new CircuitBreaker({ failureTolerance: 0 });
  const reported = [];
  const seen = [];
  breaker.on("stateChange", () => {
    throw new Error("listener bug");
  });
  breaker.on("stateChange", (t) => seen.push(t.to));
  breaker.on("error", (e) => reported.push(e.message));
  await assert.rejects(
    breaker.execute(() => {
      throw new Error("down");
    }),
    /down/,
  );
  assert.equal(breaker.state, "open");
  assert.deepEqual(seen, ["open"]);
  assert.deepEqual(reported, ["listener bug"]);
});

test("listeners unsubscribe and events carry data", async () => {
  const { breaker, clock } = await opened();
  const changes = [];
  const off = breaker.on("stateChange", (t) => changes.push(`${t.from}->${t.to}:${t.reason}@${t.at}`));
  clock.now = 1000;
  await breaker.execute(() => 1);
  off();
  breaker.forceOpen();
  assert.deepEqual(changes, ["open->half_open:reset_timeout_elapsed@1000", "half_open->closed:trial_succeeded@1000"]);
  assert.throws(() => breaker.on("opened", () => {}), RangeError);
});

test("tryAcquire, wrap, snapshots and dispose", async () => {
  const { breaker, clock } = await opened();
  assert.equal(breaker.tryAcquire(), null);
  clock.now = 1000;
  const permit = breaker.tryAcquire();
  assert.equal(permit.isTrial, true);
  permit.success();
  assert.throws(() => permit.success(), /already reported/);
  const add = breaker.wrap((a, b) => a + b);
  assert.equal(await add(2, 3), 5);
  const snapshot = JSON.parse(JSON.stringify(breaker.snapshot()));
  const restored = CircuitBreaker.restore(snapshot, { failureTolerance: 0, resetTimeout: 1000, clock });
  assert.equal(restored.stats().successes, 2);
  breaker.dispose();
  breaker.dispose();
  assert.throws(() => breaker.state, /disposed/);
});

const badOptions = [
  [{ failureTolerance: -1 }, RangeError, "failureTolerance"],
  [{ failureTolerance: 1.5 }, RangeError, "failureTolerance"],
  [{ failureTolerance: "5" }, TypeError, "failureTolerance"],
  [{ failureRate: 3 }, TypeError, "failureRate"],
  [{ failureRate: { threshold: 2, minimumCalls: 1, windowCalls: 5 } }, RangeError, "failureRate.threshold"],
  [{ failureRate: { threshold: NaN, minimumCalls: 1, windowCalls: 5 } }, RangeError, "failureRate.threshold"],
  [{ failureRate: { threshold: 0.5, minimumCalls: 1, windowCall: 5 } }, TypeError, "failureRate.windowCall"],
  [{ failureRate: { threshold: 0.5, minimumCalls: 1, windowCalls: 5, windowDuration: 10 } }, TypeError, "failureRate"],
  [{ slowCallDuration: 0 }, RangeError, "slowCallDuration"],
  [{ resetTimeout: -1 }, RangeError, "resetTimeout"],
  [{ resetTimeout: Infinity }, RangeError, "resetTimeout"],
  [{ backoff: { multiplier: 0.5, maxResetTimeout: 60000 } }, RangeError, "backoff.multiplier"],
  [{ backoff: { multiplier: 2, maxResetTimeout: 1 } }, RangeError, "backoff.maxResetTimeout"],
  [{ backoff: { multiplier: 2, maxResetTimeout: 60000, jitter: 2 } }, RangeError, "backoff.jitter"],
  [{ halfOpenMaxCalls: 0 }, RangeError, "halfOpenMaxCalls"],
  [{ successThreshold: 0 }, RangeError, "successThreshold"],
  [{ trialTimeout: 0 }, RangeError, "trialTimeout"],
  [{ callTimeout: 0 }, RangeError, "callTimeout"],
  [{ callTimeout: "1s" }, TypeError, "callTimeout"],
  [{ isFailure: true }, TypeError, "isFailure"],
  [{ isResultFailure: 1 }, TypeError, "isResultFailure"],
  [{ clock: 5 }, TypeError, "clock"],
  [{ name: 5 }, TypeError, "name"],
  [{ seed: -1 }, RangeError, "seed"],
];

for (const [options, ErrorType, option] of badOptions) {
  test(`bad option ${JSON.stringify(options)} is a ${ErrorType.name} naming ${option}`, () => {
    assert.throws(
      () => new CircuitBreaker(options),
      (error) => {
        assert.equal(error.constructor, ErrorType, `${error.name}: ${error.message}`);
        assert.ok(error.message.startsWith(`${option} `), error.message);
        return true;
      },
    );
  });
}

test("option errors name the option in JS spelling and show the value as given", () => {
  const messages = [
    [5, TypeError, "options must be an object, got 5"],
    [{ failureTolerance: 1.5 }, RangeError, "failureTolerance must be a whole number between 0 and 4294967295, got 1.5"],
    [{ failureTolerance: "5" }, TypeError, 'failureTolerance must be a number, got "5"'],
    [{ failureTolerance: 10n }, TypeError, "failureTolerance must be a number, got bigint"],
    [{ failureRate: { threshold: 0.5, windowCalls: 5 } }, TypeError, "failureRate needs minimumCalls"],
    [{ failureRate: [] }, TypeError, "failureRate must be an object, got []"],
    [
      { failureRate: { threshold: 0.5, minimumCalls: 1, windowCall: 5 } },
      TypeError,
      "failureRate.windowCall is not an option of CircuitBreaker; did you mean failureRate.windowCalls?",
    ],
    [
      { failureRate: { threshold: 0.5, minimumCalls: 1 } },
      TypeError,
      'failureRate must be given exactly one of windowCalls and windowDuration, got {"threshold":0.5,"minimumCalls":1}',
    ],
    [
      { failureRate: { threshold: 0.5, minimumCalls: 10, windowCalls: 5 } },
      RangeError,
      "failureRate.minimumCalls must be at most failureRate.windowCalls (the window could never hold that many calls), got 10",
    ],
    [
      { failureRate: { threshold: 0.5, minimumCalls: 1, windowDuration: 0.000001 } },
      RangeError,
      "failureRate.windowDuration must be at least 10 nanoseconds (one per bucket), got 0.000001",
    ],
    [{ backoff: { multiplier: 2 } }, TypeError, "backoff needs maxResetTimeout"],
    [{ backoff: { multiplier: 2, maxResetTimeout: 1 } }, RangeError, "backoff.maxResetTimeout must be at least resetTimeout, got 1"],
    [{ resetTimeout: Infinity }, RangeError, "resetTimeout must be a finite, non-negative number, got Infinity"],
    [{ callTimeout: -5 }, RangeError, "callTimeout must be a finite, non-negative number, got -5"],
    [{ callTimeout: 0 }, RangeError, "callTimeout must be greater than 0, got 0"],
    [{ callTimeout: 2e13 }, RangeError, "callTimeout must be at most 2^64-1 nanoseconds (about 584 years), got 20000000000000"],
    [{ isFailure: "yes" }, TypeError, 'isFailure must be a function, got "yes"'],
    [{ seed: NaN }, RangeError, "seed must be a whole number between 0 and 2^53, got NaN"],
  ];
  for (const [options, ErrorType, message] of messages) {
    assert.throws(
      () => new CircuitBreaker(options),
      (error) => error.constructor === ErrorType && error.message === message,
      message,
    );
  }
});

test("the typings list every stats field and event the core has (npm/src/generated.js)", async () => {
  const generated = await import("../src/generated.js");
  const typings = readFileSync(new URL("../src/index.d.ts", import.meta.url), "utf8");
  const block = (name) => typings.match(new RegExp(`export (?:interface|type) ${name} [^{]*\\{([^}]*)\\}`))[1];
  const keys = (body) => [...body.matchAll(/^\s*(\w+)\??:/gm)].map((m) => m[1]);
  const camel = (name) => name.replace(/_(\w)/g, (_, c) => c.toUpperCase());
  assert.deepEqual(keys(block("Stats")), generated.STATS_FIELDS.map(camel));
  assert.deepEqual(Object.keys(new CircuitBreaker().stats()), generated.STATS_FIELDS.map(camel));
  assert.deepEqual(keys(block("EventMap")).sort(), generated.EVENTS.map(camel).sort());
  assert.deepEqual(EVENTS, generated.EVENTS.map(camel));
  const union = (name) => [...typings.match(new RegExp(`export type ${name} =([^;]*);`))[1].matchAll(/"(\w+)"/g)].map((m) => m[1]);
  assert.deepEqual(union("State"), generated.STATE_NAMES);
  assert.deepEqual(union("Reason"), generated.REASON_NAMES);
});

test("the exported names match the core's", () => {
  assert.deepEqual(STATES, ["closed", "open", "half_open", "forced_open", "forced_closed"]);
  assert.equal(REASONS.length, 10);
  assert.ok(OPTION_NAMES.includes("failureRate.windowDuration"));
});

test("successes held back for speed keep their order with failures and show in stats at once", async () => {
  const breaker = new CircuitBreaker({ failureTolerance: 1 });
  for (let i = 0; i < 50; i++) {
    await breaker.execute(() => "ok");
    assert.equal(breaker.stats().successes, i + 1, "stats see every success at once");
    await assert.rejects(
      breaker.execute(() => {
        throw new Error("down");
      }),
    );
  }
  // Had a held success been delivered after the failure that followed it, two
  // failures would have been consecutive and the breaker would be open.
  assert.equal(breaker.state, "closed");
  const permit = breaker.tryAcquire();
  await breaker.execute(() => "ok");
  breaker.reset(); // a new generation: the older permit's success is stale
  permit.success();
  const stats = breaker.stats();
  assert.deepEqual([stats.successes, stats.staleOutcomes, stats.inFlight], [52, 1, 0]);
});
