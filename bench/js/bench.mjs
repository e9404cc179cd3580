// tripgate's npm package against cockatiel and opossum: the overhead each
// adds to a call, as ratios measured so that they hold on a noisy 2-core
// machine, and the browser payload. Run with `make bench-js`.
//
// Method (docs/benchmarks.md, "Method"):
// - the driver (this file without --worker) starts PROCESSES worker
//   processes, half running the implementations in one order and half in
//   the reverse order;
// - a worker warms every loop up, then runs ROUNDS rounds; a round measures,
//   for each scenario, the bare call, every implementation in the worker's
//   order, and the bare call again, so each round has its own baseline;
// - each implementation's overhead in a round is its time per call minus
//   that round's bare call; a ratio (tripgate's overhead over a peer's) is
//   taken within a round;
// - the driver reports the median over every round of every process, and
//   the spread: the lowest and highest of the per-process medians. A target
//   is met only when the whole spread meets it.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname } from "node:path";

import { BREAKER_ENTRY, gzippedPayload } from "../../npm/scripts/payload.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const at = args.indexOf(`--${name}`);
  return at === -1 ? fallback : args[at + 1];
};
const PROCESSES = Number(flag("processes", 4));
const ROUNDS = Number(flag("rounds", 15));

// Calls per sample: long enough to dwarf the timer, short enough that a
// round takes well under a second.
const CALLS = { sequential: 50_000, inFlight: 50_000, rejection: 10_000 };
const SCENARIOS = Object.keys(CALLS);
const IMPLEMENTATIONS = ["tripgate", "cockatiel", "opossum (defaults)"];

// What docs/benchmarks.md holds the JS package to (tripgate's overhead over the peer's).
const TARGETS = [
  { scenario: "sequential", peer: "cockatiel", atMost: 0.6, why: "issue 13" },
  { scenario: "inFlight", peer: "cockatiel", atMost: 0.6, why: "issue 13: keep" },
  { scenario: "rejection", peer: "cockatiel", atMost: 1.0, why: "no slower than cockatiel" },
  { scenario: "sequential", peer: "opossum (defaults)", atMost: 1 / 3, why: "a third of opossum's default" },
];

if (args.includes("--worker")) {
  await worker(flag("worker"));
} else {
  await driver();
}

// ---- worker -----------------------------------------------------------------

async function worker(orderName) {
  const { ConsecutiveBreaker, circuitBreaker, handleAll } = await import("cockatiel");
  const { default: Opossum } = await import("opossum");
  const { CircuitBreaker } = await import("../../npm/dist/index.js");

  const bare = async () => 1;
  const bareRejection = () => Promise.reject(new Error("x"));
  const tripgate = new CircuitBreaker({ failureTolerance: 5, resetTimeout: 30_000 });
  const cockatiel = circuitBreaker(handleAll, { halfOpenAfter: 30_000, breaker: new ConsecutiveBreaker(6) });
  const opossum = new Opossum(bare, { resetTimeout: 30_000 }); // opossum's defaults, including its 10 s call timeout
  const tripgateOpen = new CircuitBreaker({ failureTolerance: 0, resetTimeout: 30_000 });
  tripgateOpen.forceOpen();
  const cockatielOpen = circuitBreaker(handleAll, { halfOpenAfter: 30_000, breaker: new ConsecutiveBreaker(1) });
  cockatielOpen.isolate();
  const opossumOpen = new Opossum(bare, { resetTimeout: 30_000 });
  opossumOpen.open();

  const calls = {
    sequential: { bare, tripgate: () => tripgate.execute(bare), cockatiel: () => cockatiel.execute(bare), "opossum (defaults)": () => opossum.fire() },
    rejection: {
      bare: bareRejection,
      tripgate: () => tripgateOpen.execute(bare),
      cockatiel: () => cockatielOpen.execute(bare),
      "opossum (defaults)": () => opossumOpen.fire(),
    },
  };
  calls.inFlight = calls.sequential;

  // Each (scenario, implementation) gets a loop compiled from its own
  // source text, so V8's type feedback for one never slows another.
  const bodies = {
    sequential: "for (let i = 0; i < n; i++) await call();",
    inFlight: "for (let i = 0; i < n; i += 1000) await Promise.all(Array.from({ length: 1000 }, () => call()));",
    rejection: "for (let i = 0; i < n; i++) { try { await call(); } catch {} }",
  };
  const loops = {};
  for (const scenario of SCENARIOS) {
    loops[scenario] = {};
    for (const [name, call] of Object.entries(calls[scenario])) {
      // A distinct comment makes a distinct function literal.
      const loop = new Function("call", `return async function loop(n) { /* ${scenario} ${name} */ ${bodies[scenario]} };`)(call);
      loops[scenario][name] = loop;
    }
  }

  async function sample(scenario, name) {
    globalThis.gc?.();
    const n = CALLS[scenario];
    const start = process.hrtime.bigint();
    await loops[scenario][name](n);
    return Number(process.hrtime.bigint() - start) / n;
  }

  const order = orderName === "reverse" ? [...IMPLEMENTATIONS].reverse() : IMPLEMENTATIONS;
  for (let warm = 0; warm < 3; warm++) {
    for (const scenario of SCENARIOS) for (const name of ["bare", ...order]) await sample(scenario, name);
  }
  const rounds = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (const scenario of SCENARIOS) {
      const before = await sample(scenario, "bare");
      const ns = {};
      for (const name of order) ns[name] = await sample(scenario, name);
      const after = await sample(scenario, "bare");
      rounds.push({ scenario, bare: (before + after) / 2, ns });
    }
  }
  process.stdout.write(JSON.stringify({ order: orderName, rounds }));
}

// ---- driver -----------------------------------------------------------------

async function driver() {
  const runs = [];
  for (let p = 0; p < PROCESSES; p++) {
    const order = p % 2 === 0 ? "forward" : "reverse";
    process.stderr.write(`process ${p + 1} of ${PROCESSES} (${order} order)\n`);
    const child = spawnSync(process.execPath, ["--expose-gc", fileURLToPath(import.meta.url), "--worker", order, "--rounds", String(ROUNDS)], {
      cwd: here,
      encoding: "utf8",
      maxBuffer: 64 << 20,
    });
    if (child.status !== 0) throw new Error(`worker failed (${child.status}): ${child.stderr}`);
    runs.push(JSON.parse(child.stdout));
  }

  console.log(`Node ${process.version}; ${PROCESSES} processes (half in reverse order) x ${ROUNDS} rounds;`);
  console.log("overhead = ns per call minus the same round's bare call; median over all rounds [lowest - highest per-process median]\n");
  console.log(`| implementation | ${SCENARIOS.join(" | ")} |`);
  console.log(`| --- | ${SCENARIOS.map(() => "---:").join(" | ")} |`);
  for (const name of IMPLEMENTATIONS) {
    const cells = SCENARIOS.map((s) => spreadText(runs, s, (r) => r.ns[name] - r.bare, 0, " ns"));
    console.log(`| ${name} | ${cells.join(" | ")} |`);
  }
  console.log(`| (bare call) | ${SCENARIOS.map((s) => spreadText(runs, s, (r) => r.bare, 0, " ns")).join(" | ")} |`);

  console.log("\ntripgate's overhead over the peer's, per round (lower is better):\n");
  console.log("| scenario | peer | ratio: median [spread] | target | met |");
  console.log("| --- | --- | ---: | ---: | --- |");
  for (const target of TARGETS) {
    const ratio = (r) => (r.ns.tripgate - r.bare) / (r.ns[target.peer] - r.bare);
    const { median, low, high } = spread(runs, target.scenario, ratio);
    const met = high <= target.atMost ? "met" : median <= target.atMost ? "not met (median only)" : "not met";
    console.log(
      `| ${target.scenario} | ${target.peer} | ${median.toFixed(2)}x [${low.toFixed(2)} - ${high.toFixed(2)}] | <= ${target.atMost.toFixed(2)}x (${target.why}) | ${met} |`,
    );
  }

  const [ours, whole, ascii, cockatiel, opossum] = await Promise.all([
    gzippedPayload(BREAKER_ENTRY),
    gzippedPayload(`export * from "tripgate";`),
    gzippedPayload(BREAKER_ENTRY, { charset: "ascii" }),
    gzippedPayload(
      `import { ConsecutiveBreaker, circuitBreaker, handleAll } from "cockatiel";
const breaker = circuitBreaker(handleAll, { halfOpenAfter: 30000, breaker: new ConsecutiveBreaker(6) });
export const call = (fn) => breaker.execute(fn);`,
      { resolveDir: here },
    ),
    // opossum needs a polyfill of Node's "events" in browsers; it is not counted.
    gzippedPayload(
      `import CircuitBreaker from "opossum";
export const call = (fn) => new CircuitBreaker(fn, { resetTimeout: 30000 }).fire();`,
      { resolveDir: here, external: ["events"] },
    ),
  ]);
  const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KB`;
  console.log("\nBrowser payload (an entry that imports the breaker and uses it; esbuild, minified, ESM, browser, UTF-8; gzip -9):\n");
  console.log("| package | minified | gzipped | vs smallest peer |");
  console.log("| --- | ---: | ---: | ---: |");
  const smallest = Math.min(cockatiel.gzipped, opossum.gzipped);
  for (const [name, size] of [
    ["tripgate", ours],
    ["cockatiel", cockatiel],
    ["opossum (events not counted)", opossum],
  ]) {
    console.log(`| ${name} | ${kb(size.minified)} | ${kb(size.gzipped)} | ${(size.gzipped / smallest).toFixed(1)}x |`);
  }
  console.log(
    `\ntripgate, every export (\`export * from "tripgate"\`): ${kb(whole.gzipped)} gzipped; the breaker entry with esbuild's default ASCII charset: ${kb(ascii.gzipped)}`,
  );
}

/** The median of `measure` over every round of `scenario` in every run, and the range of the per-run medians. */
function spread(runs, scenario, measure) {
  const perRun = runs.map((run) => run.rounds.filter((r) => r.scenario === scenario).map(measure));
  const medians = perRun.map(median);
  return { median: median(perRun.flat()), low: Math.min(...medians), high: Math.max(...medians) };
}

function spreadText(runs, scenario, measure, digits, unit) {
  const { median: m, low, high } = spread(runs, scenario, measure);
  return `${m.toFixed(digits)}${unit} [${low.toFixed(digits)} - ${high.toFixed(digits)}]`;
}

function median(xs) {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
