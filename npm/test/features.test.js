// Fallbacks, Retry-After hints, the cause of a CircuitOpenError and the
// duration on call events (issue 12): what a user of opossum or cockatiel
// reaches for, each with the breaker's accounting checked after.
import assert from "node:assert/strict";
import { test } from "node:test";

import { CallTimeoutError, CircuitBreaker, CircuitOpenError } from "../dist/index.js";

/** A breaker on a clock the test moves, with the events it emits. */
function harness(options = {}) {
  const clock = { now: 0 };
  const breaker = new CircuitBreaker({ clock: () => clock.now, ...options });
  const events = [];
  for (const event of ["stateChange", "fallback", "error", "success", "failure"]) {
    breaker.on(event, (payload) => events.push([event, payload]));
  }
  return { breaker, clock, events, of: (name) => events.filter(([e]) => e === name).map(([, p]) => p) };
}

function assertBalanced(breaker) {
  const s = breaker.stats();
  assert.equal(s.admitted, s.successes + s.failures + s.released + s.inFlight, JSON.stringify(s));
  return s;
}

const boom = () => Promise.reject(new Error("boom"));

test("a fallback answers a rejection; the rejection is counted as usual", async () => {
  const { breaker, of } = harness({ fallback: (error) => `fallback for ${error.code}` });
  breaker.forceOpen();
  assert.equal(await breaker.execute(() => assert.fail("a rejected call ran")), "fallback for circuit_open");
  const [event] = of("fallback");
  assert.ok(event.error instanceof CircuitOpenError);
  const s = assertBalanced(breaker);
  assert.deepEqual([s.rejections, s.admitted], [1, 0]);
});

test("a fallback answers the call's own error, counted or not, and the outcome is still counted", async () => {
  const { breaker, of } = harness({ isFailure: (error) => error.message !== "ignored", fallback: (error) => error.message });
  assert.equal(await breaker.execute(boom), "boom");
  assert.equal(await breaker.execute(() => Promise.reject(new Error("ignored"))), "ignored");
  assert.equal(await breaker.execute(() => "ok"), "ok");
  const s = assertBalanced(breaker);
  assert.deepEqual([s.failures, s.released, s.successes], [1, 1, 1]);
  assert.deepEqual(
    of("fallback").map((e) => e.error.message),
    ["boom", "ignored"],
  );
});

test("a fallback answers a call timeout, and may return a promise", async () => {
  const breaker = new CircuitBreaker({ callTimeout: 5, fallback: async (error) => error instanceof CallTimeoutError });
  assert.equal(await breaker.execute(() => new Promise(() => {})), true);
  const s = assertBalanced(breaker);
  assert.deepEqual([s.failures, s.inFlight], [1, 0]);
});

test("a fallback does not answer the caller's own abort", async () => {
  const breaker = new CircuitBreaker({ fallback: () => "fallback" });
  const controller = new AbortController();
  const call = breaker.execute(({ signal }) => new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason))), {
    signal: controller.signal,
  });
  const reason = new Error("caller gave up");
  controller.abort(reason);
  await assert.rejects(call, (error) => error === reason);
  const aborted = new AbortController();
  aborted.abort();
  await assert.rejects(
    breaker.execute(() => "never", { signal: aborted.signal }),
    (error) => error.name === "AbortError",
  );
  const s = assertBalanced(breaker);
  assert.deepEqual([s.released, s.failures], [2, 0]);
});

test("a per-call fallback replaces the breaker's; a fallback that throws is what the caller gets", async () => {
  const { breaker } = harness({ fallback: () => "breaker" });
  assert.equal(await breaker.execute(boom, { fallback: () => "call" }), "call");
  const own = new Error("from the fallback");
  await assert.rejects(
    breaker.execute(boom, {
      fallback: () => {
        throw own;
      },
    }),
    (error) => error === own,
  );
  await assert.rejects(breaker.execute(boom, { fallback: () => Promise.reject(own) }), (error) => error === own);
  breaker.forceOpen();
  await assert.rejects(
    breaker.execute(() => 1, {
      fallback: () => {
        throw own;
      },
    }),
    (error) => error === own,
  );
  assertBalanced(breaker);
});

test("a per-call fallback works on a breaker without one, and without a fallback errors pass through", async () => {
  const breaker = new CircuitBreaker();
  assert.equal(await breaker.execute(boom, { fallback: () => 7 }), 7);
  await assert.rejects(breaker.execute(boom), /boom/);
  assert.equal(assertBalanced(breaker).failures, 2);
});

test("a fallback that is not a function is a TypeError, and takes no permit", async () => {
  assert.throws(
    () => new CircuitBreaker({ fallback: "x" }),
    (error) => error instanceof TypeError && /^fallback must be a function/.test(error.message),
  );
  const breaker = new CircuitBreaker();
  await assert.rejects(
    breaker.execute(() => 1, { fallback: 3 }),
    (error) => error instanceof TypeError && /^fallback must be a function, got 3/.test(error.message),
  );
  assert.equal(breaker.stats().admitted, 0);
  const fallback = () => 1;
  assert.equal(new CircuitBreaker({ fallback }).options.fallback, fallback);
  assert.equal(breaker.options.fallback, null);
});

test("two-step permits have no fallback", () => {
  const breaker = new CircuitBreaker({ fallback: () => "x" });
  breaker.forceOpen();
  assert.equal(breaker.tryAcquire(), null);
});

test("permit.failure({ retryAfter }) opens the breaker at once for the hint", () => {
  const { breaker, clock, of } = harness({ failureTolerance: 5, resetTimeout: 1000 });
  const permit = breaker.tryAcquire();
  clock.now = 10;
  permit.failure({ retryAfter: 30000 });
  assert.deepEqual(
    of("stateChange").map((t) => [t.from, t.to, t.reason]),
    [["closed", "open", "retry_after_received"]],
  );
  assert.equal(breaker.retryAfter, 30000);
  clock.now = 30010;
  assert.equal(breaker.state, "half_open");
});

test("a bad retryAfter is a typed error naming it, and the permit stays unreported", () => {
  const breaker = new CircuitBreaker();
  const permit = breaker.tryAcquire();
  for (const [options, ErrorType, pattern] of [
    [{ retryAfter: -1 }, RangeError, /^retryAfter must be a number of milliseconds >= 0, got -1$/],
    [{ retryAfter: Number.NaN }, RangeError, /^retryAfter .* got NaN$/],
    [{ retryAfter: "10" }, TypeError, /^retryAfter must be a number of milliseconds, got "10"$/],
    [{ retryAfer: 10 }, TypeError, /retryAfer/],
    [5, TypeError, /^failure options must be an object, got 5$/],
  ]) {
    assert.throws(
      () => permit.failure(options),
      (error) => error.constructor === ErrorType && pattern.test(error.message),
    );
  }
  assert.equal(breaker.stats().inFlight, 1);
  permit.failure({ retryAfter: null });
  const s = assertBalanced(breaker);
  assert.deepEqual([s.failures, s.state], [1, "closed"]);
});

test("retryAfterHint finds the hint in a failed call's error or result", async () => {
  const { breaker, clock } = harness({
    resetTimeout: 1000,
    isResultFailure: (response) => response.status === 429,
    retryAfterHint: (errorOrResult) => errorOrResult.retryAfterMs ?? null,
  });
  await assert.rejects(breaker.execute(() => Promise.reject(new Error("no hint"))));
  assert.equal(breaker.state, "closed");
  const response = { status: 429, retryAfterMs: 20000 };
  assert.equal(await breaker.execute(() => response), response);
  assert.equal(breaker.state, "open");
  assert.equal(breaker.retryAfter, 20000);
  clock.now = 20000;
  assert.equal(breaker.state, "half_open");
  await assert.rejects(breaker.execute(() => Promise.reject(Object.assign(new Error("503"), { retryAfterMs: 5000 }))));
  assert.equal(breaker.retryAfter, 5000);
  assertBalanced(breaker);
});

test("a retryAfterHint that throws or returns nonsense is reported to error listeners; the failure counts without a hint", async () => {
  const bug = new Error("hint bug");
  const answers = [
    () => {
      throw bug;
    },
    () => -5,
    () => "soon",
  ];
  let next = 0;
  const { breaker, of } = harness({ retryAfterHint: () => answers[next++]() });
  for (let i = 0; i < answers.length; i++) {
    await assert.rejects(breaker.execute(boom), /boom/);
  }
  const errors = of("error");
  assert.equal(errors[0], bug);
  assert.ok(errors[1] instanceof RangeError && /^retryAfterHint must return/.test(errors[1].message), String(errors[1]));
  assert.ok(errors[2] instanceof TypeError, String(errors[2]));
  const s = assertBalanced(breaker);
  assert.deepEqual([s.failures, s.state], [3, "closed"]);
});

test("maxRetryAfter caps a hint, defaults to 5 minutes and is checked by the core", () => {
  assert.equal(new CircuitBreaker().options.maxRetryAfter, 300000);
  const { breaker } = harness({ maxRetryAfter: 60000 });
  breaker.tryAcquire().failure({ retryAfter: Number.POSITIVE_INFINITY });
  assert.equal(breaker.retryAfter, 60000);
  assert.throws(
    () => new CircuitBreaker({ maxRetryAfter: 0 }),
    (error) => error instanceof RangeError && error.message === "maxRetryAfter must be greater than 0, got 0",
  );
  assert.throws(() => new CircuitBreaker({ maxRetryAfter: "1" }), TypeError);
});

test("a CircuitOpenError's cause is the failure that opened the breaker, until it closes", async () => {
  const { breaker, clock } = harness({ failureTolerance: 1, resetTimeout: 1000 });
  await assert.rejects(breaker.execute(boom));
  const opener = new Error("the second failure");
  await assert.rejects(breaker.execute(() => Promise.reject(opener)));
  await assert.rejects(
    breaker.execute(() => 1),
    (error) => error instanceof CircuitOpenError && error.cause === opener,
  );
  clock.now = 1000;
  const trial = breaker.tryAcquire();
  // Half-open, every trial slot taken: still the failure that opened it.
  await assert.rejects(
    breaker.execute(() => 1),
    (error) => error.state === "half_open" && error.cause === opener,
  );
  trial.success();
  assert.equal(breaker.state, "closed");
  breaker.forceOpen();
  await assert.rejects(
    breaker.execute(() => 1),
    (error) => error.state === "forced_open" && !("cause" in error),
  );
});

test("success and failure events carry the call's duration", async () => {
  const { breaker, clock, of } = harness();
  await breaker.execute(async () => {
    clock.now = 25;
  });
  await assert.rejects(
    breaker.execute(async () => {
      clock.now = 100;
      throw new Error("slow failure");
    }),
  );
  const permit = breaker.tryAcquire();
  clock.now = 103;
  permit.success();
  assert.deepEqual(
    of("success").map((e) => e.duration),
    [25, 3],
  );
  assert.deepEqual(
    of("failure").map((e) => e.duration),
    [75],
  );
});

test("a clock that fails while timing a call gives a null duration and the outcome still counts", async () => {
  let fail = false;
  const breaker = new CircuitBreaker({
    clock: () => {
      if (fail) {
        throw new Error("clock broke");
      }
      return 0;
    },
  });
  const durations = [];
  breaker.on("success", (e) => durations.push(e.duration));
  breaker.on("error", () => {});
  await breaker.execute(async () => {
    fail = true;
  });
  fail = false;
  assert.deepEqual(durations, [null]);
  assert.equal(assertBalanced(breaker).successes, 1);
});

test("a clock that fails on admission is the caller's error, not answered by the fallback", async () => {
  let readings = 1;
  const broke = new Error("clock broke");
  const answered = [];
  const breaker = new CircuitBreaker({
    // A time-based option, so that admitting a call reads the clock.
    slowCallDuration: 1000,
    fallback: (error) => answered.push(error),
    clock: () => {
      if (readings-- > 0) {
        return 0;
      }
      throw broke;
    },
  });
  breaker.on("error", () => {});
  await assert.rejects(
    breaker.execute(() => "never"),
    (error) => error === broke,
  );
  assert.deepEqual(answered, []);
});

test("a CircuitOpenError's message names the breaker and why it rejected, in the kit's one wording", async () => {
  const { breaker, clock } = harness({ failureTolerance: 1, resetTimeout: 1000, name: "api" });
  await assert.rejects(breaker.execute(boom));
  await assert.rejects(breaker.execute(boom));
  await assert.rejects(
    breaker.execute(() => 1),
    { message: 'circuit breaker "api" is open; retry after 1000.0 ms' },
  );
  clock.now = 1000;
  const trial = breaker.tryAcquire();
  await assert.rejects(
    breaker.execute(() => 1),
    { message: 'circuit breaker "api" is half_open and every trial slot is taken' },
  );
  trial.success();
  breaker.forceOpen();
  await assert.rejects(
    breaker.execute(() => 1),
    { message: 'circuit breaker "api" is forced_open' },
  );
});
