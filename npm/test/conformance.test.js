// The JS runner of the language-neutral scenarios in tests/conformance/:
// every scenario file on disk runs through the public API twice, with an
// injected clock: once with the two-step tryAcquire, and once with whole
// calls through execute(), each permit of the scenario a call whose promise
// the runner settles at the step that reports it (success resolves, failure
// rejects, release rejects with an error isFailure does not count; a
// failure's Retry-After hint travels on its error, found by retryAfterHint).
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { test, after } from "node:test";
import { fileURLToPath } from "node:url";

import Ajv2020 from "ajv/dist/2020.js";

import { CircuitBreaker, CircuitBreakerGroup, CircuitOpenError, InvalidSnapshotError } from "../dist/index.js";

const dir = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "tests", "conformance", "scenarios");
const files = readdirSync(dir)
  .filter((f) => f.endsWith(".json"))
  .sort();
const ran = new Set();
const validate = new Ajv2020({ allErrors: true, strict: false }).compile(JSON.parse(readFileSync(join(dir, "..", "schema.json"), "utf8")));

function assertValid(scenario) {
  assert.ok(validate(scenario), `${scenario.name} does not match schema.json: ${JSON.stringify(validate.errors?.slice(0, 3))}`);
}

const camel = (name) => name.replace(/_([a-z])/g, (_, c) => c.toUpperCase());

function jsOptions(config) {
  const out = {};
  for (const [key, value] of Object.entries(config)) {
    out[camel(key)] = value !== null && typeof value === "object" && !Array.isArray(value) ? jsOptions(value) : value;
  }
  return out;
}

function matches(expected, actual) {
  if (expected === null || typeof expected !== "object") {
    if (typeof expected === "number" && typeof actual === "number") {
      return Math.abs(expected - actual) <= Math.max(1e-6, Math.abs(expected) * 1e-12);
    }
    return expected === actual;
  }
  if (Array.isArray(expected)) {
    return Array.isArray(actual) && expected.length === actual.length && expected.every((e, i) => matches(e, actual[i]));
  }
  return actual !== null && typeof actual === "object" && Object.entries(expected).every(([k, v]) => k in actual && matches(v, actual[k]));
}

/** What a call settled by a `release` step rejects with; the execute-mode breaker's isFailure does not count it. */
const RELEASE = new Error("released by the scenario");

class Run {
  /** `calls`: permits are execute() calls rather than tryAcquire() permits. */
  constructor(config, calls = false) {
    this.now = 0;
    this.calls = calls;
    this.config = config;
    this.transitions = [];
    this.rejections = [];
    this.permits = new Map();
    this.snapshots = new Map();
    this.breaker = this.attach(new CircuitBreaker(this.options(config)));
  }

  options(config) {
    const options = { ...jsOptions(config), clock: () => this.now };
    return this.calls ? { ...options, isFailure: (error) => error !== RELEASE, retryAfterHint: (error) => error.retryAfter } : options;
  }

  attach(breaker) {
    breaker.on("stateChange", (t) => this.transitions.push(t));
    breaker.on("rejected", (r) => this.rejections.push(r));
    return breaker;
  }

  acquire(label, expect) {
    const owner = this.breaker;
    if (this.calls) {
      return this.call(label, expect);
    }
    const heard = this.rejections.length;
    const permit = owner.tryAcquire();
    if (permit === null) {
      return this.rejection(heard);
    }
    this.permits.set(label, { settle: (op, hint) => (hint === undefined ? permit[op]() : permit.failure({ retryAfter: hint })), owner });
    return { admitted: true, trial: permit.isTrial };
  }

  /** The rejection's own event (`heard` events were emitted before it), never an older one. */
  rejection(heard) {
    assert.equal(this.rejections.length, heard + 1, "a rejection emitted no rejected event");
    const r = this.rejections.at(-1);
    return { admitted: false, state: r.state, retry_after: r.retryAfter };
  }

  /** A whole call: admitted when execute() calls fn at once; it stays pending until its report step. */
  call(label, expect) {
    const owner = this.breaker;
    // Whether a call is a trial shows only in the stats; read them only when the step asks.
    const trialsBefore = expect?.trial !== undefined ? owner.stats().trialsInFlight : 0;
    let settle;
    const heard = this.rejections.length;
    const done = owner.execute(() => new Promise((resolve, reject) => (settle = { resolve, reject })));
    if (settle === undefined) {
      const rejection = this.rejection(heard);
      return done.then(
        () => assert.fail("a rejected call resolved"),
        (error) => {
          assert.ok(error instanceof CircuitOpenError, String(error));
          assert.deepEqual([error.state, error.retryAfter], [rejection.state, rejection.retry_after]);
          return rejection;
        },
      );
    }
    const outcome = (op, hint) => {
      if (op === "success") {
        settle.resolve("ok");
        return done;
      }
      settle.reject(op === "failure" ? Object.assign(new Error("failed by the scenario"), { retryAfter: hint }) : RELEASE);
      return done.then(
        () => assert.fail("a failed call resolved"),
        () => {},
      );
    };
    this.permits.set(label, { settle: outcome, owner });
    const trial = expect?.trial !== undefined ? owner.stats().trialsInFlight > trialsBefore : undefined;
    return { admitted: true, trial };
  }

  async report(op, label, hint) {
    const { settle, owner } = this.permits.get(label);
    this.permits.delete(label);
    const before = owner.stats();
    await settle(op, hint);
    const afterStats = owner.stats();
    return {
      // A permit of a breaker replaced by a restore changes nothing in the restored one.
      stale: owner !== this.breaker || afterStats.staleOutcomes > before.staleOutcomes,
      slow: afterStats.slowCalls > before.slowCalls,
    };
  }

  async step(step) {
    this.now = step.at;
    const b = this.breaker;
    switch (step.op) {
      case "acquire":
        return this.acquire(step.permit, step.expect);
      case "acquire_many": {
        const counts = { admitted: 0, rejected: 0 };
        for (let i = 0; i < step.count; i++) {
          const outcome = await this.acquire(`${step.permit}${counts.admitted}`);
          counts[outcome.admitted ? "admitted" : "rejected"] += 1;
        }
        return counts;
      }
      case "success":
      case "failure":
      case "release":
        return this.report(step.op, step.permit, step.retry_after);
      case "state":
        return b.state;
      case "retry_after":
        return b.retryAfter;
      case "stats": {
        const stats = b.stats();
        return Object.fromEntries(Object.entries(stats).map(([k, v]) => [k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), v]));
      }
      case "force_open":
        b.forceOpen();
        return null;
      case "force_closed":
        b.forceClosed();
        return null;
      case "reset":
        b.reset();
        return null;
      case "transitions": {
        const drained = this.transitions;
        this.transitions = [];
        return drained;
      }
      case "snapshot": {
        const snapshot = b.snapshot();
        JSON.stringify(snapshot);
        this.snapshots.set(step.name ?? "", snapshot);
        return snapshot;
      }
      case "restore": {
        const snapshot = step.name !== undefined ? this.snapshots.get(step.name) : step.snapshot;
        const config = step.config ?? this.config;
        try {
          this.breaker = this.attach(CircuitBreaker.restore(snapshot, this.options(config)));
          this.config = config;
          return { restored: true };
        } catch (error) {
          assert.ok(error instanceof InvalidSnapshotError, String(error));
          return { error: { code: error.code, field: error.field } };
        }
      }
      default:
        throw new Error(`unknown op ${step.op}`);
    }
  }
}

/** An error as scenarios name it: its code (tripgate's errors) or its message. */
const errorName = (error) => error?.code ?? error?.message;

/** An event as scenarios write it: [name, ...details]. */
function describeEvent(event, payload) {
  switch (event) {
    case "stateChange":
      return ["state_change", payload.from, payload.to, payload.reason];
    case "rejected":
      return ["rejected", payload.state];
    case "failure":
    case "fallback":
      return payload.error === undefined ? [event] : [event, errorName(payload.error)];
    default:
      return [event];
  }
}

/**
 * A whole-call scenario (what the bindings own): every permit is an
 * execute() call that the runner settles by returning, raising or letting
 * it time out; predicates and a fallback come from the scenario.
 */
class CallRun {
  constructor(scenario) {
    this.now = 0;
    this.events = [];
    this.calls = new Map();
    const classify = scenario.classify ?? {};
    const raisesOn = new Set(classify.predicate_raises_on ?? []);
    const predicate = (list) => (subject) => {
      if (raisesOn.has(subject)) {
        throw new Error(`a predicate that raises on ${subject}`);
      }
      return list.includes(subject);
    };
    const options = { ...jsOptions(scenario.config), clock: () => this.now };
    if (scenario.classify !== undefined) {
      const failing = predicate(classify.failing_results ?? []);
      const ignored = predicate(classify.ignored_errors ?? []);
      options.isResultFailure = failing;
      options.isFailure = (error) => !ignored(error.message);
    }
    if (scenario.fallback) {
      options.fallback = (error) => {
        this.answered = error;
        return `fallback for ${errorName(error)}`;
      };
    }
    if (scenario.call_timeout !== undefined) {
      options.callTimeout = scenario.call_timeout;
    }
    this.breaker = new CircuitBreaker(options);
    for (const event of ["stateChange", "success", "failure", "rejected", "timeout", "fallback"]) {
      this.breaker.on(event, (payload) => {
        this.events.push(describeEvent(event, payload));
        if (event === "rejected") {
          this.rejection = payload;
        }
      });
    }
    // Errors the breaker catches (the raising predicates) are expected here.
    this.breaker.on("error", () => {});
  }

  async call(label) {
    let settle;
    this.answered = undefined;
    const done = this.breaker.execute(() => new Promise((resolve, reject) => (settle = { resolve, reject })));
    if (settle !== undefined) {
      this.calls.set(label, { settle, done });
      return { admitted: true };
    }
    const { state, retryAfter } = this.rejection;
    const ended = await this.ending(done);
    const error = this.answered ?? ended.error;
    assert.ok(error instanceof CircuitOpenError, String(error));
    return { admitted: false, state, retry_after: retryAfter, cause: error.cause?.message ?? null, resolved: ended.resolved };
  }

  /** What the caller of `done` got: { resolved } or { error, rejected_with }. */
  async ending(done) {
    try {
      return { resolved: await done };
    } catch (error) {
      return { error, rejected_with: errorName(error) };
    }
  }

  async settle(label, settleWith) {
    const { settle, done } = this.calls.get(label);
    this.calls.delete(label);
    const before = this.breaker.stats();
    settleWith(settle);
    const { resolved, rejected_with } = await this.ending(done);
    const after = this.breaker.stats();
    const outcome = ["successes", "failures", "released"].find((counter) => after[counter] > before[counter]);
    const actual = { outcome: { successes: "success", failures: "failure", released: "released" }[outcome] };
    if (resolved !== undefined) {
      actual.resolved = resolved;
    }
    if (rejected_with !== undefined) {
      actual.rejected_with = rejected_with;
    }
    return actual;
  }

  async step(step) {
    this.now = step.at;
    const b = this.breaker;
    switch (step.op) {
      case "call":
        return this.call(step.permit);
      case "return":
        return this.settle(step.permit, (settle) => settle.resolve(step.value));
      case "raise":
        return this.settle(step.permit, (settle) => settle.reject(new Error(step.error)));
      case "time_out":
        return this.settle(step.permit, () => {});
      case "events": {
        const drained = this.events;
        this.events = [];
        return drained;
      }
      case "state":
        return b.state;
      case "stats": {
        const stats = b.stats();
        return Object.fromEntries(Object.entries(stats).map(([k, v]) => [k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), v]));
      }
      case "force_open":
      case "force_closed":
      case "reset":
        b[{ force_open: "forceOpen", force_closed: "forceClosed", reset: "reset" }[step.op]]();
        return null;
      default:
        throw new Error(`op ${step.op} is not one of a whole-call scenario`);
    }
  }
}

async function runSteps(run, scenario, how) {
  for (const [index, step] of scenario.steps.entries()) {
    const actual = await run.step(step);
    if ("expect" in step) {
      assert.ok(matches(step.expect, actual), `${how}: step ${index} (${step.op}): expected ${JSON.stringify(step.expect)}, got ${JSON.stringify(actual)}`);
    }
  }
}

/** A group scenario's steps through CircuitBreakerGroup (see schema.json, group_step). */
async function runGroup(scenario) {
  const group = new CircuitBreakerGroup({ ...jsOptions(scenario.config), maxBreakers: scenario.group.max_breakers });
  const held = new Map();
  const failure = new Error("the scenario's failing call");
  for (const [index, step] of scenario.group.steps.entries()) {
    const where = `step ${index} (${step.op} ${step.key ?? ""})`;
    let error;
    try {
      switch (step.op) {
        case "get":
          group.get(step.key);
          break;
        case "call_succeeds":
          assert.equal(await group.execute(step.key, async () => "ok"), "ok", where);
          break;
        case "call_fails":
          await group
            .execute(step.key, async () => {
              throw failure;
            })
            .then(
              () => assert.fail(`${where}: the failing call returned`),
              (e) => {
                if (e !== failure) throw e;
              },
            );
          break;
        case "hold": {
          const permit = group.get(step.key).tryAcquire();
          assert.ok(permit, `${where}: no permit`);
          held.set(step.key, permit);
          break;
        }
        case "settle_held":
          held.get(step.key).success();
          held.delete(step.key);
          break;
        case "force_closed":
          group.get(step.key).forceClosed();
          break;
        case "keys":
          assert.deepEqual(group.keys(), step.expect, where);
          break;
      }
    } catch (e) {
      error = e;
    }
    if (step.expect_error !== undefined) {
      assert.equal(error?.code, step.expect_error, `${where}: ${error?.message ?? "no error"}`);
    } else if (error !== undefined) {
      throw error;
    }
  }
}

for (const file of files) {
  test(file.replace(/\.json$/, ""), async () => {
    const scenario = JSON.parse(readFileSync(join(dir, file), "utf8"));
    assertValid(scenario);
    assert.equal(`${scenario.name}.json`, file);
    const expectedError = scenario.expect_config_error;
    if (expectedError) {
      const ErrorType = { type: TypeError, range: RangeError }[expectedError.kind];
      assert.throws(
        // call_timeout is the binding's option, beside the machine's.
        () => new CircuitBreaker(jsOptions({ ...scenario.config, call_timeout: scenario.call_timeout })),
        (error) => {
          assert.equal(error.constructor, ErrorType, `${error.name}: ${error.message}`);
          assert.ok(error.message.startsWith(`${camel(expectedError.option)} `), error.message);
          if ("value" in expectedError) {
            assert.ok(error.message.includes(String(expectedError.value)), error.message);
          }
          return true;
        },
      );
    } else if (scenario.group) {
      await runGroup(scenario);
    } else if (scenario.whole_calls) {
      await runSteps(new CallRun(scenario), scenario, "whole calls");
    } else {
      for (const calls of [false, true]) {
        await runSteps(new Run(scenario.config, calls), scenario, calls ? "execute" : "tryAcquire");
      }
    }
    ran.add(file);
  });
}

test("the schema refuses a step without its expectation, or one missing a key", () => {
  const scenario = JSON.parse(readFileSync(join(dir, "half_open_trial_success_closes.json"), "utf8"));
  assertValid(scenario);
  for (const op of ["acquire", "success"]) {
    for (const spoil of [(s) => delete s.expect, (s) => delete s.expect[Object.keys(s.expect)[0]]]) {
      const spoiled = structuredClone(scenario);
      spoil(spoiled.steps.find((s) => s.op === op));
      assert.equal(validate(spoiled), false, op);
    }
  }
});

after(() => {
  assert.ok(files.length >= 40, "at least 40 scenarios");
  assert.deepEqual([...ran].sort(), files, "every scenario file must run");
});

// Snapshots: the npm package converts snapshot objects itself (no JSON
// parser in its wasm module), so it must write exactly what the core's codec
// writes and refuse exactly what it refuses.
const vectors = JSON.parse(readFileSync(join(dir, "..", "snapshot_vectors.json"), "utf8"));

for (const vector of vectors.valid) {
  test(`snapshot vector ${vector.name} restores and snapshots as the core writes it`, () => {
    const breaker = CircuitBreaker.restore(vector.snapshot, { ...jsOptions(vector.config), clock: () => vector.at });
    assert.equal(JSON.stringify(breaker.snapshot()), vector.restored_snapshot);
    breaker.dispose();
  });
}

for (const vector of vectors.invalid) {
  test(`snapshot vector ${vector.name} is refused naming ${vector.field}`, () => {
    assert.throws(
      () => CircuitBreaker.restore(vector.snapshot, jsOptions(vector.config)),
      (error) => error instanceof InvalidSnapshotError && error.code === "invalid_snapshot" && error.field === vector.field,
    );
  });
}
