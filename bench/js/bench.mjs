// tripgate's npm package against cockatiel and opossum, in one process:
// the overhead each adds to a call (median of several runs minus the median
// of the bare call measured the same way), and the size a browser downloads.
// Run with `make bench-js` (builds the package first).
import { build } from "esbuild";
import { gzipSync } from "node:zlib";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { ConsecutiveBreaker, circuitBreaker, handleAll } from "cockatiel";
import Opossum from "opossum";

import { CircuitBreaker } from "../../npm/dist/index.js";

const here = dirname(fileURLToPath(import.meta.url));
const RUNS = 7;
const bare = async () => 1;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function perCall(makeCall, calls) {
  const samples = [];
  for (let run = 0; run < RUNS; run++) {
    const start = process.hrtime.bigint();
    await makeCall(calls);
    samples.push(Number(process.hrtime.bigint() - start) / calls);
  }
  return median(samples);
}

const sequential = (call) => async (n) => {
  for (let i = 0; i < n; i++) await call();
};
const inFlight = (call) => async (n) => {
  for (let i = 0; i < n; i += 1000) await Promise.all(Array.from({ length: 1000 }, call));
};
const rejections = (call) => async (n) => {
  for (let i = 0; i < n; i++) await call().catch(() => {});
};

function implementations() {
  const tripgate = new CircuitBreaker({ failureTolerance: 5, resetTimeout: 30_000 });
  const cockatiel = circuitBreaker(handleAll, { halfOpenAfter: 30_000, breaker: new ConsecutiveBreaker(6) });
  const opossum = new Opossum(bare, { resetTimeout: 30_000 }); // opossum's defaults, including its 10 s call timeout
  const tripgateOpen = new CircuitBreaker({ failureTolerance: 0, resetTimeout: 30_000 });
  tripgateOpen.forceOpen();
  const cockatielOpen = circuitBreaker(handleAll, { halfOpenAfter: 30_000, breaker: new ConsecutiveBreaker(1) });
  cockatielOpen.isolate();
  const opossumOpen = new Opossum(bare, { resetTimeout: 30_000 });
  opossumOpen.open();
  return [
    { name: "tripgate", call: () => tripgate.execute(bare), reject: () => tripgateOpen.execute(bare) },
    { name: "cockatiel", call: () => cockatiel.execute(bare), reject: () => cockatielOpen.execute(bare) },
    { name: "opossum (defaults)", call: () => opossum.fire(), reject: () => opossumOpen.fire() },
  ];
}

// charset utf8 is what Vite, Rollup and webpack (terser) write; esbuild alone
// defaults to ASCII, escaping every non-ASCII character (tripgate's embedded
// module is one character per byte), so that size is reported too.
async function gzippedBundle(entry, charset = "utf8") {
  const result = await build({
    stdin: { contents: entry, resolveDir: here, loader: "js" },
    bundle: true, minify: true, write: false, format: "esm", platform: "browser", logLevel: "silent", charset,
    // opossum needs a polyfill of Node's "events" in browsers; it is not counted.
    external: ["events"],
  });
  return gzipSync(result.outputFiles[0].contents, { level: 9 }).length;
}

const CALLS = 200_000;
const base = {
  sequential: await perCall(sequential(bare), CALLS),
  inFlight: await perCall(inFlight(bare), CALLS),
  rejection: await perCall(rejections(() => Promise.reject(new Error("x"))), CALLS / 4),
};
const rows = [];
for (const impl of implementations()) {
  rows.push({
    name: impl.name,
    sequential: (await perCall(sequential(impl.call), CALLS)) - base.sequential,
    inFlight: (await perCall(inFlight(impl.call), CALLS)) - base.inFlight,
    rejection: (await perCall(rejections(impl.reject), CALLS / 4)) - base.rejection,
  });
}
const sizes = {
  tripgate: await gzippedBundle(`export * from "../../npm/dist/index.js";`),
  cockatiel: await gzippedBundle(`export * from "cockatiel";`),
  "opossum (defaults)": await gzippedBundle(`export { default } from "opossum";`),
};

console.log(`Node ${process.version}, ${RUNS} runs each, median ns per call over the bare call`);
console.log("(rejection: a rejected call against a rejected promise)\n");
console.log("| implementation | sequential | 1,000 in flight | rejection | minified + gzipped |");
console.log("| --- | ---: | ---: | ---: | ---: |");
for (const r of rows) {
  console.log(`| ${r.name} | ${r.sequential.toFixed(0)} | ${r.inFlight.toFixed(0)} | ${r.rejection.toFixed(0)} | ${(sizes[r.name] / 1024).toFixed(1)} KB |`);
}
console.log(`| (bare call, ns) | ${base.sequential.toFixed(0)} | ${base.inFlight.toFixed(0)} | ${base.rejection.toFixed(0)} | |`);
const asciiSize = await gzippedBundle(`export * from "../../npm/dist/index.js";`, "ascii");
console.log(`\ntripgate bundled by esbuild with its default charset (ASCII escapes): ${(asciiSize / 1024).toFixed(1)} KB gzipped`);
