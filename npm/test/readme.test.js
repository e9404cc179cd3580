// The READMEs' JavaScript examples run: every ```js block of the top-level
// README.md and of npm/README.md is executed as an ES module importing the
// built package, and what it prints must be what its `// → ` comments say.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { inspect } from "node:util";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const dist = pathToFileURL(join(root, "npm", "dist", "index.js")).href;
const readmes = ["README.md", "npm/README.md"];

for (const readme of readmes) {
  const blocks = [...readFileSync(join(root, readme), "utf8").matchAll(/^```js\n([\s\S]*?)^```/gm)].map((m) => m[1]);

  test(`${readme} has JavaScript examples`, () => {
    assert.ok(blocks.length >= 1);
  });

  blocks.forEach((code, index) => {
    test(`${readme} js example #${index} runs and prints what its comments say`, async () => {
      const file = join(mkdtempSync(join(tmpdir(), "tripgate-readme-")), `example${index}.mjs`);
      const subpath = (name) => JSON.stringify(pathToFileURL(join(root, "npm", "dist", `${name}.js`)).href);
      writeFileSync(
        file,
        code.replaceAll('from "tripgate"', `from ${JSON.stringify(dist)}`).replace(/from "tripgate\/(\w+)"/g, (_, name) => `from ${subpath(name)}`),
      );
      const printed = [];
      const log = console.log;
      console.log = (...values) => printed.push(values.map((v) => (typeof v === "string" ? v : inspect(v))).join(" "));
      try {
        await import(pathToFileURL(file).href);
      } finally {
        console.log = log;
      }
      check(printed, expectedOutput(code));
    });
  });
}

/**
 * What an example says it prints: every `// → text` in it, in order (after a
 * console.log call on its line, or on lines of their own after a block that
 * prints). A word starting with "~" means "about": it and everything after
 * it go uncompared, as does a closing remark in parentheses.
 */
function expectedOutput(code) {
  return [...code.matchAll(/\/\/ → (.*)$/gm)].map((m) => m[1].replace(/\s+\([^)]*\)$/, ""));
}

function check(printed, expected) {
  assert.equal(printed.length, expected.length, `printed ${JSON.stringify(printed)}, expected ${JSON.stringify(expected)}`);
  expected.forEach((line, i) => {
    const words = line.split(/\s+/);
    const about = words.findIndex((w) => w.startsWith("~"));
    const compared = about === -1 ? words.length : about;
    assert.deepEqual(
      printed[i].split(/\s+/).slice(0, compared),
      words.slice(0, compared),
      `line ${i}: printed ${JSON.stringify(printed[i])}, expected ${JSON.stringify(line)}`,
    );
  });
}
