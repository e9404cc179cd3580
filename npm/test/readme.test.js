// The README's JavaScript examples run: every ```js block of the top-level
// README.md is executed as an ES module importing the built package.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const dist = pathToFileURL(join(root, "npm", "dist", "index.js")).href;
const blocks = [...readFileSync(join(root, "README.md"), "utf8").matchAll(/^```js\n([\s\S]*?)^```/gm)].map((m) => m[1]);

test("the README has JavaScript examples", () => {
  assert.ok(blocks.length >= 1);
});

blocks.forEach((code, index) => {
  test(`README.md js example #${index} runs`, async () => {
    const file = join(mkdtempSync(join(tmpdir(), "tripgate-readme-")), `example${index}.mjs`);
    writeFileSync(file, code.replaceAll('from "tripgate"', `from ${JSON.stringify(dist)}`));
    await import(pathToFileURL(file).href);
  });
});
