// The Node client of the demo: fetch through a breaker (5xx are failures,
// callTimeout aborts the fetch). Prints one JSON line per event. With
// --no-breaker it is the control: the same calls and timeout, with a breaker
// forced closed (it admits everything and never trips).
//   node examples/demo/client.mjs URL SECONDS [--no-breaker]
import { CircuitBreaker, CircuitOpenError, CallTimeoutError } from "../../npm/dist/index.js";

const [url, seconds] = [process.argv[2], Number(process.argv[3])];
const name = process.argv.includes("--no-breaker") ? "control" : "node";
const emit = (event) => process.stdout.write(`${JSON.stringify({ client: name, ...event })}\n`);
const breaker = new CircuitBreaker({
  name: "node",
  failureTolerance: 3,
  resetTimeout: 1_000,
  backoff: { multiplier: 2, maxResetTimeout: 4_000, jitter: 0.1 },
  callTimeout: 500,
  isResultFailure: (response) => response.status >= 500,
});
if (name === "control") breaker.forceClosed();
const t0 = performance.now();
breaker.on("stateChange", (t) => emit({ event: "state", from: t.from, to: t.to, reason: t.reason, t: (performance.now() - t0) / 1000 }));

const counts = { made: 0, ok: 0, failed: 0, timedOut: 0, rejected: 0, waitedMs: 0 };
while (performance.now() - t0 < seconds * 1000) {
  const start = performance.now();
  try {
    const response = await breaker.execute(({ signal }) => fetch(url, { signal, headers: { "x-client": name } }));
    counts.made += 1;
    counts[response.ok ? "ok" : "failed"] += 1;
    await response.arrayBuffer();
  } catch (error) {
    if (error instanceof CircuitOpenError) counts.rejected += 1;
    else {
      counts.made += 1;
      counts[error instanceof CallTimeoutError ? "timedOut" : "failed"] += 1;
    }
  }
  counts.waitedMs += performance.now() - start;
  await new Promise((resolve) => setTimeout(resolve, 100));
}
emit({ event: "done", ...counts, state: breaker.state });
