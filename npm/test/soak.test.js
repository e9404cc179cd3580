// A bounded soak and a property-based fuzz of the JS API (issue
// "Hardening"): random interleavings of calls, failures, hanging calls,
// caller aborts, two-step permits, forced states, a clock that fails or
// lies, listeners that throw or re-enter, and snapshot/restore, across
// several breakers. After every step, for every breaker ever made:
// admitted == successes + failures + released + inFlight, and inFlight is
// exactly the number of permits and calls the test still holds: no permit
// is lost and no call hangs once what it waits for has happened.
import assert from "node:assert/strict";
import { test } from "node:test";

import fc from "fast-check";

import { CircuitBreaker } from "../dist/index.js";

const CONFIGS = [
  { failureTolerance: 1, resetTimeout: 50, halfOpenMaxCalls: 2 },
  { failureTolerance: 3, failureRate: { threshold: 0.5, minimumCalls: 4, windowCalls: 8 }, slowCallDuration: 30, resetTimeout: 40 },
  { failureTolerance: 0, successThreshold: 2, trialTimeout: 100, resetTimeout: 20, backoff: { multiplier: 2, maxResetTimeout: 200, jitter: 0.5 }, seed: 7 },
  { failureRate: { threshold: 0.3, minimumCalls: 2, windowDuration: 100 }, halfOpenMaxCalls: 3, resetTimeout: 30 },
];

const flush = () => new Promise((resolve) => setImmediate(resolve));

/** The world the operations act on. */
class World {
  constructor() {
    this.now = 0;
    this.clockMode = "ok"; // "ok" | "throw" | "nan" | "infinity"
    this.breakers = [];
    this.caught = 0;
  }

  clock = () => {
    switch (this.clockMode) {
      case "throw":
        throw new Error("clock broken");
      case "nan":
        return NaN;
      case "infinity":
        return Infinity;
      default:
        return this.now;
    }
  };

  add(breaker, options) {
    const entry = { breaker, options, permits: [], calls: [], live: 0 };
    breaker.on("error", () => {
      this.caught++;
    });
    this.breakers.push(entry);
    return entry;
  }

  make(configIndex) {
    const options = { ...CONFIGS[configIndex % CONFIGS.length], clock: this.clock };
    return this.add(new CircuitBreaker(options), options);
  }

  /** One of the 8 newest breakers (restored ones replace their originals in use). */
  pick(index) {
    const newest = Math.min(8, this.breakers.length);
    return this.breakers[this.breakers.length - 1 - (index % newest)];
  }

  /** Runs one operation; a failing clock may make any of them throw, which is the caller's error to get. */
  async apply([kind, a, b]) {
    const entry = this.pick(a);
    const { breaker } = entry;
    try {
      switch (kind) {
        case "advance":
          this.now += b;
          break;
        case "clock":
          this.clockMode = ["ok", "ok", "throw", "nan", "infinity"][b % 5];
          break;
        case "call": {
          // b: 0 success, 1 failure, 2 hang until settled, 3 abortable hang
          let settle;
          const controller = b === 3 ? new AbortController() : undefined;
          const call = { settled: false };
          const promise = breaker.execute(
            () => {
              entry.live++;
              call.admitted = true;
              if (b === 0) return Promise.resolve("ok");
              if (b === 1) return Promise.reject(new Error("down"));
              return new Promise((resolve, reject) => (settle = { resolve, reject }));
            },
            controller === undefined ? undefined : { signal: controller.signal },
          );
          promise
            .then(
              () => {},
              () => {},
            )
            .finally(() => {
              call.settled = true;
              if (call.admitted) entry.live--;
            });
          if (settle !== undefined) {
            entry.calls.push({ settle, controller, call });
          }
          break;
        }
        case "settle": {
          const pending = entry.calls.shift();
          if (pending === undefined) break;
          if (pending.controller !== undefined && b % 2 === 0) {
            pending.controller.abort(new Error("caller gave up"));
          } else if (b % 3 === 0) {
            pending.settle.reject(new Error("late failure"));
          } else {
            pending.settle.resolve("late");
          }
          break;
        }
        case "acquire": {
          const permit = breaker.tryAcquire();
          if (permit !== null) entry.permits.push(permit);
          break;
        }
        case "report": {
          const permit = entry.permits.shift();
          if (permit === undefined) break;
          [() => permit.success(), () => permit.failure(), () => permit.release()][b % 3]();
          break;
        }
        case "force":
          [() => breaker.forceOpen(), () => breaker.forceClosed(), () => breaker.reset()][b % 3]();
          break;
        case "listener":
          if (b % 2 === 0) {
            breaker.on(["stateChange", "success", "failure", "rejected"][b % 4], () => {
              throw new Error("listener bug");
            });
          } else {
            // A listener that re-enters the breaker.
            breaker.on("stateChange", ({ to }) => {
              breaker.stats();
              if (to === "forced_open") breaker.reset();
            });
          }
          break;
        case "restore": {
          // The same options (a failure-rate window must keep its shape), another name.
          const options = { ...entry.options, name: `restored ${b}` };
          this.add(CircuitBreaker.restore(breaker.snapshot(), options), options);
          break;
        }
        default:
          throw new Error(`unknown operation ${kind}`);
      }
    } catch (error) {
      // Only the clock may make an operation fail here, and only with its own (or a typed) error.
      assert.ok(this.clockMode !== "ok", `${kind} threw with a working clock: ${error?.stack ?? error}`);
      assert.ok(error instanceof Error, String(error));
    }
  }

  /** The invariant, read with a working clock, after letting every settled call finish. */
  async check(where) {
    await flush();
    const mode = this.clockMode;
    this.clockMode = "ok";
    for (const [i, entry] of this.breakers.entries()) {
      const s = entry.breaker.stats();
      const held = entry.permits.length + entry.live;
      assert.equal(s.admitted, s.successes + s.failures + s.released + s.inFlight, `${where}, breaker ${i}: ${JSON.stringify(s)}`);
      assert.equal(s.inFlight, held, `${where}, breaker ${i}: inFlight ${s.inFlight}, the test holds ${held}`);
      assert.ok(s.trialsInFlight <= s.inFlight, `${where}, breaker ${i}`);
    }
    this.clockMode = mode;
  }

  /** Settles everything still pending: nothing may hang. */
  async drain() {
    this.clockMode = "ok";
    for (const entry of this.breakers) {
      for (const pending of entry.calls.splice(0)) pending.settle.resolve("drained");
      for (const permit of entry.permits.splice(0)) permit.release();
    }
    await flush();
    await this.check("after draining");
    for (const entry of this.breakers) {
      assert.equal(entry.breaker.stats().inFlight, 0);
    }
  }
}

const KINDS = ["advance", "clock", "call", "call", "call", "settle", "settle", "acquire", "report", "force", "listener", "restore"];

const operation = fc.tuple(fc.constantFrom(...KINDS), fc.nat(7), fc.nat(60));

async function run(ops, configs) {
  const world = new World();
  for (const config of configs) world.make(config);
  for (const [index, op] of ops.entries()) {
    await world.apply(op);
    await world.check(`after step ${index} ${JSON.stringify(op)}`);
  }
  await world.drain();
}

test("fuzz: any sequence of operations keeps every breaker's books", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(operation, { maxLength: 60 }), fc.array(fc.nat(3), { minLength: 1, maxLength: 3 }), async (ops, configs) => {
      await run(ops, configs);
    }),
    { numRuns: 150, seed: 20261127 },
  );
});

test("soak: a long random interleaving across several breakers, bounded in time", async () => {
  // A seeded generator, so that a failure reproduces; the seed changes from run to run.
  const seed = Number(process.env.TRIPGATE_SOAK_SEED ?? Date.now() % 1_000_000);
  let state = seed;
  // mulberry32
  const next = (n) => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) % n;
  };
  const world = new World();
  for (let i = 0; i < 4; i++) world.make(i);
  const deadline = Date.now() + 5_000;
  let steps = 0;
  try {
    while (Date.now() < deadline && steps < 20_000) {
      const op = [KINDS[next(KINDS.length)], next(8), next(60)];
      await world.apply(op);
      if (steps % 10 === 0) await world.check(`step ${steps} ${JSON.stringify(op)}`);
      steps++;
    }
    await world.drain();
  } catch (error) {
    error.message = `soak seed ${seed} (rerun with TRIPGATE_SOAK_SEED=${seed}): ${error.message}`;
    throw error;
  }
  console.log(`soak: ${steps} steps over ${world.breakers.length} breakers, ${world.caught} errors caught by listeners (seed ${seed})`);
  assert.ok(steps > 500, `only ${steps} steps ran`);
});
