// CircuitBreakerGroup: one breaker per key, LRU eviction of idle breakers,
// events forwarded with their key, and the typed errors of bad input.
import assert from "node:assert/strict";
import { test } from "node:test";

import { CircuitBreakerGroup, CircuitOpenError, TripgateError } from "../dist/index.js";

const boom = () => Promise.reject(new Error("boom"));

test("each key gets its own breaker, named by the key, with the group's options", async () => {
  const group = new CircuitBreakerGroup({ failureTolerance: 0, resetTimeout: 60000 });
  const bad = group.get("https://bad.example");
  assert.equal(bad.name, "https://bad.example");
  assert.equal(bad.options.failureTolerance, 0);
  assert.equal(group.get("https://bad.example"), bad, "the same breaker on every get");
  await assert.rejects(group.execute("https://bad.example", boom), /boom/);
  await assert.rejects(
    group.execute("https://bad.example", () => "never"),
    CircuitOpenError,
  );
  assert.equal(await group.execute("https://good.example", () => "ok"), "ok");
  assert.deepEqual(group.keys(), ["https://bad.example", "https://good.example"]);
  const stats = group.stats();
  assert.deepEqual(Object.keys(stats), group.keys());
  assert.equal(stats["https://bad.example"].state, "open");
  assert.equal(stats["https://good.example"].successes, 1);
  assert.equal(group.maxBreakers, 1000);
});

test("when full, the least recently used idle closed breaker is evicted and keeps working detached", async () => {
  const group = new CircuitBreakerGroup({ maxBreakers: 2 });
  const a = group.get("a");
  group.get("b");
  group.get("a"); // a is now the most recently used...
  const heard = [];
  group.on("success", (e) => heard.push(e.key));
  const b = group.get("b"); // ...and now b: a is the least recently used
  group.get("c");
  assert.deepEqual(group.keys(), ["b", "c"]);
  assert.equal(await a.execute(() => 1), 1, "an evicted breaker still works");
  assert.deepEqual(heard, [], "an evicted breaker's events no longer reach the group");
  await b.execute(() => 2);
  assert.deepEqual(heard, ["b"]);
  assert.notEqual(group.get("a"), a, "a key evicted gets a new breaker");
});

test("open, half-open, forced and busy breakers are never evicted; a full group refuses new keys with group_full", async () => {
  const group = new CircuitBreakerGroup({ maxBreakers: 3, failureTolerance: 0 });
  await assert.rejects(group.execute("open", boom));
  group.get("forced").forceClosed();
  let finish;
  const busy = group.execute("busy", () => new Promise((resolve) => (finish = resolve)));
  assert.throws(
    () => group.get("new"),
    (error) => error instanceof TripgateError && error.code === "group_full" && /\b3\b/.test(error.message) && /maxBreakers/.test(error.message),
  );
  await assert.rejects(
    group.execute("new", () => 1),
    (error) => error.code === "group_full",
  );
  assert.deepEqual(group.keys(), ["open", "forced", "busy"]);
  finish("done");
  assert.equal(await busy, "done");
  group.get("new");
  assert.deepEqual(group.keys(), ["open", "forced", "new"]);
});

test("delete removes a breaker and says whether there was one", () => {
  const group = new CircuitBreakerGroup();
  const a = group.get("a");
  assert.equal(group.delete("a"), true);
  assert.equal(group.delete("a"), false);
  assert.deepEqual(group.keys(), []);
  assert.equal(a.state, "closed", "a deleted breaker still works");
});

test("group listeners hear every breaker's events with the key, including breakers created later", async () => {
  const group = new CircuitBreakerGroup({ failureTolerance: 0 });
  await group.execute("early", () => 1);
  const changes = [];
  const stop = group.on("stateChange", (e) => changes.push([e.key, e.from, e.to, e.reason]));
  await assert.rejects(group.execute("early", boom));
  await assert.rejects(group.execute("late", boom));
  assert.deepEqual(changes, [
    ["early", "closed", "open", "failure_tolerance_exceeded"],
    ["late", "closed", "open", "failure_tolerance_exceeded"],
  ]);
  stop();
  group.get("early").reset();
  assert.equal(changes.length, 2, "unsubscribed");
});

test("a group listener that throws is reported by the breaker, and the other listeners still run", async () => {
  const group = new CircuitBreakerGroup();
  const heard = [];
  const errors = [];
  group.on("error", (e) => errors.push(e));
  group.on("success", () => {
    throw new Error("listener bug");
  });
  group.on("success", (e) => heard.push(e.key));
  await group.execute("k", () => 1);
  assert.deepEqual(heard, ["k"]);
  assert.equal(errors.length, 1);
  assert.equal(errors[0].key, "k");
  assert.equal(errors[0].error.message, "listener bug");
});

test("bad input is a typed error naming the option or argument, and creates nothing", async () => {
  assert.throws(
    () => new CircuitBreakerGroup({ maxBreakers: 0 }),
    (e) => e instanceof RangeError && /^maxBreakers .* got 0$/.test(e.message),
  );
  assert.throws(() => new CircuitBreakerGroup({ maxBreakers: 1.5 }), RangeError);
  assert.throws(
    () => new CircuitBreakerGroup({ maxBreakers: "3" }),
    (e) => e instanceof TypeError && /^maxBreakers must be a number/.test(e.message),
  );
  assert.throws(
    () => new CircuitBreakerGroup({ resetTimeout: -1 }),
    (e) => e instanceof RangeError && /^resetTimeout/.test(e.message),
  );
  assert.throws(
    () => new CircuitBreakerGroup({ resetTimout: 1 }),
    (e) => e instanceof TypeError && /did you mean resetTimeout/.test(e.message),
  );
  assert.throws(() => new CircuitBreakerGroup({ name: "x" }), TypeError);
  assert.throws(() => new CircuitBreakerGroup(null), TypeError);
  const group = new CircuitBreakerGroup();
  assert.throws(
    () => group.get(42),
    (e) => e instanceof TypeError && e.message === "key must be a string, got 42",
  );
  await assert.rejects(
    group.execute(undefined, () => 1),
    TypeError,
  );
  assert.throws(() => group.on("nope", () => {}), RangeError);
  assert.throws(() => group.on("success", 1), TypeError);
  assert.deepEqual(group.keys(), []);
});

test("_watch reports breakers as they come and go", () => {
  const group = new CircuitBreakerGroup({ maxBreakers: 1 });
  group.get("first");
  const seen = [];
  const stop = group._watch({ added: (key) => seen.push(["added", key]), removed: (key) => seen.push(["removed", key]) });
  group.get("second");
  group.delete("second");
  stop();
  group.get("third");
  assert.deepEqual(seen, [
    ["added", "first"],
    ["removed", "first"],
    ["added", "second"],
    ["removed", "second"],
  ]);
});
