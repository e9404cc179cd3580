// Failure paths of the JS API (issue "Hardening"): failing and invalid
// clocks, bad execute() options, aborts, timeouts, dispose() inside a
// listener, re-entrant listeners, unknown options and large snapshots. After
// each, the books must balance: admitted == successes + failures + released
// + inFlight, with no permit lost and no call hanging.
import assert from "node:assert/strict";
import { test } from "node:test";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { CallTimeoutError, CircuitBreaker, TripgateError } from "../dist/index.js";

const here = dirname(fileURLToPath(import.meta.url));

/** A manual clock that throws while `broken` is set. */
function flakyClock() {
  const clock = () => {
    if (clock.broken) {
      throw new Error("clock broken");
    }
    return clock.now;
  };
  clock.now = 0;
  clock.broken = false;
  return clock;
}

function assertBalanced(breaker) {
  const s = breaker.stats();
  assert.equal(s.admitted, s.successes + s.failures + s.released + s.inFlight, JSON.stringify(s));
  return s;
}

function heardErrors(breaker) {
  const errors = [];
  breaker.on("error", (error) => errors.push(error));
  return errors;
}

test("a clock failing while a call is reported: the caller gets the call's result, the permit is recorded, the error goes to listeners", async () => {
  const clock = flakyClock();
  // slowCallDuration makes every report read the clock; callTimeout adds the guarded path.
  for (const options of [{ slowCallDuration: 500 }, { slowCallDuration: 500, callTimeout: 1000 }]) {
    const breaker = new CircuitBreaker({ clock, ...options });
    const errors = heardErrors(breaker);
    const value = await breaker.execute(async () => {
      clock.broken = true;
      return 42;
    });
    assert.equal(value, 42);
    clock.broken = false;
    await assert.rejects(
      breaker.execute(async () => {
        clock.broken = true;
        throw new Error("own error");
      }),
      /own error/,
    );
    clock.broken = false;
    const s = assertBalanced(breaker);
    assert.deepEqual([s.successes, s.failures, s.inFlight], [1, 1, 0]);
    assert.ok(errors.length >= 2 && errors.every((e) => e.message === "clock broken"), String(errors));
  }
});

test("a half-open trial reported while the clock fails still closes the breaker", async () => {
  const clock = flakyClock();
  const breaker = new CircuitBreaker({ failureTolerance: 0, resetTimeout: 1000, clock });
  heardErrors(breaker);
  await assert.rejects(breaker.execute(() => Promise.reject(new Error("down"))));
  clock.now = 1000;
  assert.equal(
    await breaker.execute(async () => {
      clock.broken = true;
      return "ok";
    }),
    "ok",
  );
  clock.broken = false;
  const s = assertBalanced(breaker);
  assert.deepEqual([s.state, s.trialsInFlight, s.inFlight], ["closed", 0, 0]);
});

test("a clock failing while a call is admitted rejects the call (never a synchronous throw) and admits nothing", async () => {
  const clock = flakyClock();
  const breaker = new CircuitBreaker({ slowCallDuration: 500, clock });
  clock.broken = true;
  let called = false;
  let pending;
  assert.doesNotThrow(() => {
    pending = breaker.execute(() => {
      called = true;
    });
  });
  await assert.rejects(pending, /clock broken/);
  assert.equal(called, false);
  clock.broken = false;
  assert.equal(assertBalanced(breaker).admitted, 0);
});

test("a clock failing on its second reading (callTimeout's start) neither throws synchronously nor loses the call", async () => {
  const clock = flakyClock();
  const breaker = new CircuitBreaker({ callTimeout: 1000, clock });
  const errors = heardErrors(breaker);
  clock.broken = true; // the closed breaker needs no time to admit; the timer's start reading fails
  let pending;
  assert.doesNotThrow(() => {
    pending = breaker.execute(async () => 7);
  });
  assert.equal(await pending, 7);
  clock.broken = false;
  assert.equal(assertBalanced(breaker).successes, 1);
  assert.equal(errors.length, 1);
});

test("clock readings that are not a finite number of milliseconds in range are clock errors", async () => {
  for (const [reading, ErrorType] of [
    [NaN, RangeError],
    [-1, RangeError],
    ["5", TypeError],
    [Infinity, RangeError],
    [1e300, RangeError],
    [2 ** 64 / 1e6, RangeError],
    [undefined, TypeError],
  ]) {
    assert.throws(() => new CircuitBreaker({ clock: () => reading }), ErrorType, String(reading));
  }
  // An opened breaker whose clock once reads Infinity while reporting must not saturate its time.
  const clock = flakyClock();
  const breaker = new CircuitBreaker({ failureTolerance: 0, resetTimeout: 1000, clock });
  const errors = heardErrors(breaker);
  await assert.rejects(
    breaker.execute(async () => {
      clock.now = Infinity;
      throw new Error("down");
    }),
    /down/,
  );
  assert.equal(errors.length, 1);
  assert.ok(errors[0] instanceof RangeError);
  assert.throws(() => breaker.state, RangeError);
  clock.now = 10;
  assert.equal(breaker.state, "open");
  assert.equal(breaker.retryAfter, 990);
  assert.equal(assertBalanced(breaker).failures, 1);
});

test("execute() options are checked before a permit is taken", async () => {
  const clock = flakyClock();
  const breaker = new CircuitBreaker({ failureTolerance: 0, resetTimeout: 1000, clock });
  await assert.rejects(breaker.execute(() => Promise.reject(new Error("down"))));
  clock.now = 1000; // half-open: one trial slot
  let called = 0;
  for (const options of [{ signal: null }, { signal: {} }, { signal: "abort" }, null, 5, { timeout: 10 }]) {
    await assert.rejects(
      breaker.execute(() => {
        called++;
      }, options),
      TypeError,
      JSON.stringify(options),
    );
  }
  assert.equal(called, 0);
  assert.equal(breaker.stats().admitted, 1);
  // The trial slot is still free.
  assert.equal(await breaker.execute(async () => "trial", { signal: new AbortController().signal }), "trial");
  assert.equal(assertBalanced(breaker).state, "closed");
});

test("the caller's abort settles execute() at once even when fn ignores its signal; fn's late outcome is ignored", async () => {
  const breaker = new CircuitBreaker({ failureTolerance: 0 });
  const controller = new AbortController();
  let finish;
  const pending = breaker.execute(() => new Promise((resolve) => (finish = resolve)), { signal: controller.signal });
  const reason = new Error("caller gave up");
  controller.abort(reason);
  await assert.rejects(pending, (e) => e === reason);
  let s = assertBalanced(breaker);
  assert.deepEqual([s.released, s.inFlight, s.failures], [1, 0, 0]);
  finish("late");
  await new Promise((resolve) => setImmediate(resolve));
  s = assertBalanced(breaker);
  assert.deepEqual([s.released, s.successes, s.inFlight], [1, 0, 0]);
});

test("a callTimeout fires even when nothing else keeps the event loop alive", () => {
  const script = `
    import { CircuitBreaker } from ${JSON.stringify(join(here, "..", "dist", "index.js"))};
    const breaker = new CircuitBreaker({ callTimeout: 30 });
    try {
      await breaker.execute(() => new Promise(() => {}));
      console.log("resolved");
    } catch (error) {
      console.log(error.code, breaker.stats().failures, breaker.stats().inFlight);
    }`;
  const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 10_000 });
  assert.equal(out.trim(), "call_timeout 1 0");
});

test("dispose() inside a listener: pending calls settle with their own outcome; later use is a typed disposed error", async () => {
  const breaker = new CircuitBreaker({ failureTolerance: 0 });
  let finish;
  const earlier = breaker.execute(() => new Promise((resolve) => (finish = resolve)));
  breaker.on("stateChange", () => breaker.dispose());
  const own = new Error("own");
  await assert.rejects(
    breaker.execute(() => Promise.reject(own)),
    (e) => e === own,
  );
  finish("earlier");
  assert.equal(await earlier, "earlier");
  const disposed = (e) => e instanceof TripgateError && e.code === "disposed";
  assert.throws(() => breaker.state, disposed);
  assert.throws(() => breaker.stats(), disposed);
  assert.throws(() => breaker.tryAcquire(), disposed);
  assert.throws(() => breaker.on("success", () => {}), disposed);
  assert.throws(() => breaker.snapshot(), disposed);
  await assert.rejects(
    breaker.execute(async () => 1),
    disposed,
  );
});

test("dispose() in a listener of the transition an acquire causes: the call is still made and settles", async () => {
  const clock = flakyClock();
  const breaker = new CircuitBreaker({ failureTolerance: 0, resetTimeout: 1000, clock });
  await assert.rejects(breaker.execute(() => Promise.reject(new Error("down"))));
  clock.now = 1000;
  breaker.on("stateChange", () => breaker.dispose());
  assert.equal(await breaker.execute(async () => "made"), "made");
});

test("every listener sees transitions in the order they happened, even when a listener causes one", () => {
  const breaker = new CircuitBreaker({ failureTolerance: 0 });
  const seen = [];
  breaker.on("stateChange", ({ to }) => {
    if (to === "forced_open") {
      breaker.reset(); // a nested transition, while the others have not heard of forced_open yet
    }
  });
  breaker.on("stateChange", ({ from, to }) => seen.push(`${from}->${to}`));
  breaker.forceOpen();
  assert.deepEqual(seen, ["closed->forced_open", "forced_open->closed"]);
  assert.equal(breaker.state, "closed");
});

test("a throwing predicate counts the call as a failure and its error goes to the error listeners", async () => {
  const bug = new Error("predicate bug");
  const breaker = new CircuitBreaker({
    isFailure: () => {
      throw bug;
    },
    isResultFailure: () => {
      throw bug;
    },
  });
  const errors = heardErrors(breaker);
  await assert.rejects(
    breaker.execute(() => Promise.reject(new Error("own"))),
    /own/,
  );
  assert.equal(await breaker.execute(async () => "value"), "value");
  const s = assertBalanced(breaker);
  assert.deepEqual([s.failures, s.successes], [2, 0]);
  assert.deepEqual(errors, [bug, bug]);
});

test("unknown option names are TypeErrors suggesting the closest valid name", () => {
  const cases = JSON.parse(readFileSync(join(here, "..", "..", "tests", "conformance", "option_suggestions.json"), "utf8")).cases;
  assert.ok(cases.length >= 5);
  for (const { js } of cases) {
    const [given, options] = js.options;
    assert.throws(
      () => new CircuitBreaker(options),
      (error) => {
        assert.equal(error.constructor, TypeError);
        assert.ok(error.message.startsWith(`${given} is not an option of CircuitBreaker`), error.message);
        if (js.suggestion === null) {
          assert.ok(!error.message.includes("did you mean"), error.message);
        } else {
          assert.ok(error.message.endsWith(`; did you mean ${js.suggestion}?`), error.message);
        }
        return true;
      },
    );
  }
});

test("a snapshot with the largest count window the options allow restores", () => {
  const options = { failureRate: { threshold: 0.5, minimumCalls: 1, windowCalls: 1_000_000 } };
  const snapshot = new CircuitBreaker(options).snapshot();
  snapshot.window.outcomes = Array.from({ length: 1_000_000 }, (_, i) => i % 4 === 0);
  const restored = CircuitBreaker.restore(snapshot, options);
  const s = restored.stats();
  assert.deepEqual([s.windowCalls, s.windowFailures], [1_000_000, 250_000]);
  restored.dispose();
});

test("TimeoutError and disposal keep their types", () => {
  assert.ok(new CallTimeoutError(5) instanceof TripgateError);
});

test("options are readable, complete, frozen, and build an equal breaker", () => {
  const clock = () => 0;
  const breaker = new CircuitBreaker({
    failureRate: { threshold: 0.5, minimumCalls: 2, windowDuration: 1000 },
    resetTimeout: 2500,
    seed: 7,
    name: "orders",
    clock,
  });
  const { options } = breaker;
  assert.equal(options.failureTolerance, 5);
  assert.equal(options.resetTimeout, 2500);
  assert.deepEqual(options.failureRate, { threshold: 0.5, minimumCalls: 2, windowDuration: 1000 });
  assert.equal(options.backoff, null);
  assert.equal(options.slowCallDuration, null);
  assert.equal(options.callTimeout, null);
  assert.deepEqual([options.seed, options.name, options.clock], [7, "orders", clock]);
  assert.ok(Object.isFrozen(options) && Object.isFrozen(options.failureRate));
  // ES modules are strict: assigning to a frozen object's property throws.
  assert.throws(() => {
    options.resetTimeout = 1;
  }, TypeError);
  const given = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== null));
  assert.deepEqual(new CircuitBreaker(given).options, options);
  const backoff = new CircuitBreaker({ backoff: { multiplier: 2, maxResetTimeout: 60_000 } }).options.backoff;
  assert.deepEqual(backoff, { multiplier: 2, maxResetTimeout: 60_000, jitter: 0 });
});

test("exhausting wasm memory is a RangeError, and the module stays usable", () => {
  const big = { failureRate: { threshold: 0.5, minimumCalls: 1, windowCalls: 1_000_000 } };
  const small = new CircuitBreaker({ failureTolerance: 1e9 });
  const held = [];
  let refused;
  // Each count window of a million outcomes takes its 1 MB when made: about 4,000 fill the 4 GiB.
  for (let i = 0; i < 6_000 && refused === undefined; i++) {
    try {
      held.push(new CircuitBreaker(big));
    } catch (error) {
      refused = error;
    }
  }
  assert.ok(refused instanceof RangeError, `got ${refused}`);
  assert.match(refused.message, /^failureRate\.windowCalls needs more memory than is available|^out of WebAssembly memory/);
  assert.ok(held.length > 1_000, `only ${held.length} breakers fitted`);
  // The breakers already made still work.
  const permit = small.tryAcquire();
  permit.success();
  for (const breaker of held.splice(0)) {
    breaker.dispose();
  }
  // Freed memory is reused: a big breaker can be made again, and works.
  const again = new CircuitBreaker(big);
  again.tryAcquire().success();
  assert.deepEqual([again.stats().successes, again.stats().windowCalls], [1, 1]);
  assert.equal(small.stats().successes, 1);
});

test("a hostile snapshot with millions of buckets or outcomes is refused without growing wasm memory", async () => {
  const { wasmMemoryBytes } = await import("../dist/index.js");
  const timeWindow = { failureRate: { threshold: 0.5, minimumCalls: 1, windowDuration: 1000 } };
  const countWindow = { failureRate: { threshold: 0.5, minimumCalls: 1, windowCalls: 10 } };
  const buckets = new CircuitBreaker(timeWindow).snapshot();
  buckets.window.buckets = Array.from({ length: 3_000_000 }, (_, index) => ({ index, calls: 1, failures: 0 }));
  const outcomes = new CircuitBreaker(countWindow).snapshot();
  outcomes.window.outcomes = new Array(3_000_000).fill(true);
  const before = wasmMemoryBytes();
  for (const [snapshot, options, field] of [
    [buckets, timeWindow, "window.buckets"],
    [outcomes, countWindow, "window.outcomes"],
  ]) {
    assert.throws(
      () => CircuitBreaker.restore(snapshot, options),
      (error) => error.code === "invalid_snapshot" && error.field === field,
    );
  }
  assert.ok(wasmMemoryBytes() - before < 16 * 1024 * 1024, `wasm memory grew from ${before} to ${wasmMemoryBytes()}`);
});

test("a callTimeout longer than setTimeout's limit (2^31 - 1 ms) waits in steps instead of firing at once", async () => {
  const LIMIT = 2 ** 31 - 1;
  const real = { setTimeout: globalThis.setTimeout, clearTimeout: globalThis.clearTimeout };
  // A timer the test fires by hand: each armed timer's delay and callback.
  const armed = [];
  const breaker = new CircuitBreaker({ callTimeout: 3e9 });
  let answered;
  let first;
  let second;
  globalThis.setTimeout = (callback, delay) => armed.push({ callback, delay });
  globalThis.clearTimeout = () => {};
  try {
    first = breaker.execute(() => new Promise((resolve) => (answered = resolve)));
    assert.deepEqual(
      armed.map((t) => t.delay),
      [LIMIT],
    );
    armed[0].callback(); // one step elapses: not yet timed out
    assert.deepEqual(
      armed.map((t) => t.delay),
      [LIMIT, 3e9 - LIMIT],
    );
    second = breaker.execute(() => new Promise(() => {}));
    armed[2].callback();
    armed[3].callback(); // the whole 3e9 ms elapse
  } finally {
    Object.assign(globalThis, real);
  }
  answered(1);
  assert.equal(await first, 1);
  await assert.rejects(second, (error) => error instanceof CallTimeoutError && error.timeout === 3e9);
  const stats = assertBalanced(breaker);
  assert.equal(stats.successes, 1);
  assert.equal(stats.failures, 1);
});
