// The browser payload budget: `import { CircuitBreaker } from "tripgate"`,
// bundled and gzipped the one way scripts/payload.mjs measures it, must not
// grow past payload-budget.json.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { BREAKER_ENTRY, PACKAGE_DIR, gzippedPayload } from "../scripts/payload.mjs";

const budget = JSON.parse(readFileSync(join(PACKAGE_DIR, "payload-budget.json"), "utf8"));

test("the breaker's browser payload stays within its budget", async () => {
  const { gzipped } = await gzippedPayload(BREAKER_ENTRY);
  assert.ok(
    gzipped <= budget.breakerEntryGzippedBytes,
    `the payload is ${gzipped} bytes gzipped, over its budget of ${budget.breakerEntryGzippedBytes} (npm/payload-budget.json)`,
  );
});

test("the shipped module has no core::fmt code (its names, kept in a copy optimized the same way)", () => {
  // Formatting code is the largest thing a panic path can drag in; the
  // module's paths are kept panic-free so that wasm-opt drops all of it.
  const names = readFileSync(join(PACKAGE_DIR, "wasm", "tripgate_wasm_named.wasm")).toString("latin1");
  assert.ok(names.includes("tripgate_core"), "the named copy has its function names");
  for (const fmt of ["::fmt::", "pad_integral", "do_count_chars"]) {
    assert.ok(!names.includes(fmt), `the module holds ${fmt} code again (find what reaches it: twiggy paths npm/wasm/tripgate_wasm_bg.wasm)`);
  }
});

test("the payload measure sees what an entry pulls in", async () => {
  // An entry that uses nothing tree-shakes to almost nothing: the measure
  // bundles, minifies and tree-shakes, and so can tell entries apart.
  const empty = await gzippedPayload(`import { CircuitBreaker } from "tripgate"; export {};`);
  const used = await gzippedPayload(BREAKER_ENTRY);
  assert.ok(empty.gzipped < used.gzipped / 10, `empty entry ${empty.gzipped} B, breaker entry ${used.gzipped} B`);
});
