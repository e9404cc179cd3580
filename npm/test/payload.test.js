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

test("the payload measure sees what an entry pulls in", async () => {
  // An entry that uses nothing tree-shakes to almost nothing: the measure
  // bundles, minifies and tree-shakes, and so can tell entries apart.
  const empty = await gzippedPayload(`import { CircuitBreaker } from "tripgate"; export {};`);
  const used = await gzippedPayload(BREAKER_ENTRY);
  assert.ok(empty.gzipped < used.gzipped / 10, `empty entry ${empty.gzipped} B, breaker entry ${used.gzipped} B`);
});
