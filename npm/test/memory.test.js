// 1,000,000 execute() calls leave the JS heap and the wasm memory flat.
import assert from "node:assert/strict";
import { test } from "node:test";

import { CircuitBreaker, wasmMemoryBytes } from "../dist/index.js";

test("a million execute() calls leave the JS heap and wasm memory flat", async () => {
  const breaker = new CircuitBreaker({ failureTolerance: 1e9 });
  // Rejections too: an open breaker alongside.
  const open = new CircuitBreaker({ failureTolerance: 0 });
  open.forceOpen();
  const fn = () => 1;
  const run = async (n) => {
    for (let i = 0; i < n; i++) {
      await breaker.execute(fn);
      if (i % 10 === 0) {
        await open.execute(fn).catch(() => {});
      }
    }
  };
  const heap = async () => {
    // Node 18 keeps every rejected promise (handled or not) in its pending
    // rejection list until the event loop turns, which a loop of awaits never
    // lets it do; real programs do, so measure after a few turns, each
    // followed by a collection.
    for (let turn = 0; turn < 3; turn++) {
      await new Promise((resolve) => setImmediate(resolve));
      globalThis.gc?.();
    }
    return process.memoryUsage().heapUsed;
  };
  await run(100_000); // warm up
  const before = { heap: await heap(), buffers: wasmMemoryBytes() };
  await run(1_000_000);
  const after = { heap: await heap(), buffers: wasmMemoryBytes() };
  const stats = breaker.stats();
  assert.equal(stats.successes, 1_100_000);
  assert.equal(stats.inFlight, 0);
  console.log(
    `memory: JS heap ${(before.heap / 1e6).toFixed(1)} MB -> ${(after.heap / 1e6).toFixed(1)} MB, ` +
      `wasm memory ${(before.buffers / 1e6).toFixed(2)} MB -> ${(after.buffers / 1e6).toFixed(2)} MB`,
  );
  assert.equal(after.buffers, before.buffers, "wasm memory grew");
  assert.ok(after.heap - before.heap < 4_000_000, `JS heap grew by ${after.heap - before.heap} bytes`);
});

test("breakers that are garbage collected give their wasm memory back", async () => {
  const round = () => {
    for (let i = 0; i < 20_000; i++) {
      new CircuitBreaker({ failureRate: { threshold: 0.5, minimumCalls: 10, windowCalls: 100 } });
    }
  };
  const settle = async () => {
    for (let i = 0; i < 5; i++) {
      globalThis.gc();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  assert.ok(globalThis.gc, "run with --expose-gc");
  round();
  await settle();
  const after1 = wasmMemoryBytes();
  for (let i = 0; i < 5; i++) {
    round();
    await settle();
  }
  const after6 = wasmMemoryBytes();
  console.log(`memory: wasm memory after 20,000 breakers ${(after1 / 1e6).toFixed(2)} MB, after 120,000 ${(after6 / 1e6).toFixed(2)} MB`);
  assert.ok(after6 <= after1 * 1.5, `wasm memory kept growing: ${after1} -> ${after6}`);
});

test("dispose() frees at once", () => {
  const breaker = new CircuitBreaker();
  breaker.dispose();
  assert.throws(() => breaker.stats(), /disposed/);
  assert.rejects(
    breaker.execute(() => 1),
    /disposed/,
  );
});

test("failures, two-step permits, listeners, timed reports, timeouts and snapshot/restore leave memory flat", async () => {
  let now = 0;
  const clock = () => now;
  // Timed (slowCallDuration, a time window) so that every report reads the clock and crosses into wasm.
  const breaker = new CircuitBreaker({
    failureTolerance: 1e9,
    slowCallDuration: 1000,
    failureRate: { threshold: 1, minimumCalls: 1e6, windowDuration: 60_000 },
    clock,
  });
  let heard = 0;
  for (const event of ["success", "failure", "stateChange", "error"]) {
    breaker.on(event, () => {
      heard++;
    });
  }
  const timed = new CircuitBreaker({ failureTolerance: 1e9, callTimeout: 1 });
  const ok = async () => 1;
  const down = async () => {
    throw new Error("down");
  };
  const hang = () => new Promise(() => {});
  const round = async (n) => {
    for (let i = 0; i < n; i++) {
      now += 1;
      await breaker.execute(ok);
      await breaker.execute(down).catch(() => {});
      const permit = breaker.tryAcquire();
      [() => permit.success(), () => permit.failure(), () => permit.release()][i % 3]();
      if (i % 1000 === 0) {
        const restored = CircuitBreaker.restore(breaker.snapshot(), {
          failureTolerance: 1e9,
          slowCallDuration: 1000,
          failureRate: { threshold: 1, minimumCalls: 1e6, windowDuration: 60_000 },
          clock,
        });
        restored.dispose();
      }
    }
    await Promise.all(Array.from({ length: 200 }, () => timed.execute(hang).catch(() => {})));
  };
  const measure = async () => {
    for (let turn = 0; turn < 3; turn++) {
      await new Promise((resolve) => setImmediate(resolve));
      globalThis.gc?.();
    }
    return { heap: process.memoryUsage().heapUsed, wasm: wasmMemoryBytes() };
  };
  await round(20_000); // warm up
  const before = await measure();
  for (let r = 0; r < 5; r++) {
    await round(40_000);
  }
  const after = await measure();
  const stats = breaker.stats();
  assert.equal(stats.inFlight, 0);
  assert.equal(stats.admitted, 3 * 220_000);
  assert.equal(timed.stats().failures, 6 * 200);
  assert.ok(heard >= 2 * 220_000, `listeners heard ${heard} events`);
  console.log(
    `memory (mixed): JS heap ${(before.heap / 1e6).toFixed(1)} MB -> ${(after.heap / 1e6).toFixed(1)} MB, ` +
      `wasm memory ${(before.wasm / 1e6).toFixed(2)} MB -> ${(after.wasm / 1e6).toFixed(2)} MB`,
  );
  // 200,000 failures: a leak of even 100 bytes each would be 20 MB of wasm memory.
  assert.equal(after.wasm, before.wasm, "wasm memory grew");
  assert.ok(after.heap - before.heap < 4_000_000, `JS heap grew by ${after.heap - before.heap} bytes`);
});
