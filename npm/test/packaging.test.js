// Packaging: the packed tarball (npm pack), installed into a fresh project,
// works with `import` and `require`, and its types check with tsc
// (including type errors that must be reported).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { before, test } from "node:test";
import { fileURLToPath } from "node:url";

const pkg = join(dirname(fileURLToPath(import.meta.url)), "..");
let project;

before(() => {
  const work = mkdtempSync(join(tmpdir(), "tripgate-pack-"));
  const packed = execFileSync("npm", ["pack", "--silent", "--pack-destination", work], { cwd: pkg, encoding: "utf8" }).trim().split("\n").at(-1);
  project = join(work, "project");
  mkdirSync(project);
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "consumer", private: true }));
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", join(work, packed)], { cwd: project });
});

const SCRIPT = `
  const b = new CircuitBreaker({ failureTolerance: 0, resetTimeout: 60000 });
  b.execute(() => { throw new Error("down"); }).catch(() => b.execute(() => 1)).catch((e) => {
    if (!(e instanceof CircuitOpenError) || e.code !== "circuit_open") throw new Error("not a CircuitOpenError: " + e);
    console.log(b.state);
  });`;

test("Node ESM import of the packed package", () => {
  writeFileSync(join(project, "esm.mjs"), `import { CircuitBreaker, CircuitOpenError } from "tripgate";${SCRIPT}`);
  assert.equal(execFileSync(process.execPath, ["esm.mjs"], { cwd: project, encoding: "utf8" }).trim(), "open");
});

// The integrations are entry points of their own that share the main
// entry's breaker (one module instance), with no library installed for
// tripgate/fetch and tripgate/otel (the meter is handed in).
const SUBPATH_SCRIPT = `
  const guarded = createFetch({ failureTolerance: 0 });
  if (!(guarded.group instanceof CircuitBreakerGroup)) throw new Error("tripgate/fetch has its own copy of the breaker");
  if (typeof instrument !== "function") throw new Error("no instrument");
  console.log("ok");`;

test("Node ESM import of the packed package's subpaths", () => {
  writeFileSync(
    join(project, "subpaths.mjs"),
    `import { CircuitBreakerGroup } from "tripgate"; import { createFetch } from "tripgate/fetch"; import { instrument } from "tripgate/otel";${SUBPATH_SCRIPT}`,
  );
  assert.equal(execFileSync(process.execPath, ["subpaths.mjs"], { cwd: project, encoding: "utf8" }).trim(), "ok");
});

test("Node CJS require of the packed package's subpaths", () => {
  writeFileSync(
    join(project, "subpaths.cjs"),
    `const { CircuitBreakerGroup } = require("tripgate"); const { createFetch } = require("tripgate/fetch"); const { instrument } = require("tripgate/otel");${SUBPATH_SCRIPT}`,
  );
  assert.equal(execFileSync(process.execPath, ["subpaths.cjs"], { cwd: project, encoding: "utf8" }).trim(), "ok");
});

test("Node CJS require of the packed package", () => {
  writeFileSync(join(project, "cjs.cjs"), `const { CircuitBreaker, CircuitOpenError } = require("tripgate");${SCRIPT}`);
  assert.equal(execFileSync(process.execPath, ["cjs.cjs"], { cwd: project, encoding: "utf8" }).trim(), "open");
});

test("tsc --noEmit accepts correct use and rejects the marked mistakes", () => {
  copyFileSync(join(pkg, "test", "types", "usage.ts"), join(project, "usage.ts"));
  const tsc = join(pkg, "node_modules", "typescript", "bin", "tsc");
  const args = ["--noEmit", "--strict", "--target", "es2022", "--module", "nodenext", "--moduleResolution", "nodenext", "--lib", "es2022,dom"];
  execFileSync(process.execPath, [tsc, ...args, "usage.ts"], { cwd: project, encoding: "utf8" });
  // Without the expect-error markers the same file must fail: the type tests really test.
  const unmarked = execFileSync(
    process.execPath,
    ["-e", "process.stdout.write(require('fs').readFileSync('usage.ts','utf8').replace(/\\/\\/ @ts-expect-error.*\\n/g, ''))"],
    { cwd: project, encoding: "utf8" },
  );
  writeFileSync(join(project, "unmarked.ts"), unmarked);
  const unmarkedFrom = readFileSync(join(project, "usage.ts"), "utf8");
  assert.throws(
    () => execFileSync(process.execPath, [tsc, ...args, "unmarked.ts"], { cwd: project, encoding: "utf8", stdio: "pipe" }),
    (error) => {
      const errors = String(error.stdout).match(/error TS/g) ?? [];
      const markers = unmarkedFrom.match(/\/\/ @ts-expect-error/g).length;
      assert.equal(errors.length, markers, String(error.stdout));
      return true;
    },
  );
});

test("npm publish --dry-run would publish the whole package and nothing else", () => {
  const parsed = JSON.parse(execFileSync("npm", ["publish", "--dry-run", "--json", "--loglevel=error"], { cwd: pkg, encoding: "utf8" }));
  // npm 10 prints the report itself, npm 11 keyed by the package's name.
  const report = parsed.tripgate ?? parsed;
  const files = report.files.map((f) => f.path).sort();
  const entries = ["fetch", "index", "otel", "prometheus"];
  assert.deepEqual(files, [
    "LICENSE-APACHE",
    "LICENSE-MIT",
    "README.md",
    ...entries.flatMap((e) => [`dist/${e}.cjs`, `dist/${e}.d.cts`, `dist/${e}.d.ts`, `dist/${e}.js`]),
    "package.json",
  ]);
  assert.equal(report.name, "tripgate");
  assert.match(report.version, /^\d+\.\d+\.\d+/);
  // The embedded module makes it tens of kilobytes packed; a stray file (a wasm copy, sources) would show.
  assert.ok(report.size < 150_000, `packed size ${report.size} bytes`);
  assert.ok(report.unpackedSize < 400_000, `unpacked size ${report.unpackedSize} bytes`);
});
