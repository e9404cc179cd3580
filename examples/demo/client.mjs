// The Node client of the demo: fetch through a breaker (5xx are failures,
// callTimeout aborts the fetch). Prints one JSON line per event.
//   node examples/demo/client.mjs URL SECONDS
import { CircuitBreaker, CircuitOpenError, CallTimeoutError } from "../../npm/dist/index.js";

const [url, seconds] = [process.argv[2], Number(process.argv[3])];
const emit = (event) => process.stdout.write(`${JSON.stringify({ client: "node", ...event })}\n`);
const breaker = new CircuitBreaker({
  name: "node",
  failureTolerance: 3,
  resetTimeout: 1_000,
  backoff: { multiplier: 2, maxResetTimeout: 4_000, jitter: 0.1 },
  callTimeout: 500,
  isResultFailure: (response) => response.status >= 500,
});
const t0 = performance.now();
breaker.on("stateChange", (t) => emit({ event: "state", from: t.from, to: t.to, reason: t.reason, t: (performance.now() - t0) / 1000 }));

const counts = { made: 0, ok: 0, failed: 0, timedOut: 0, rejected: 0, waitedMs: 0 };
while (performance.now() - t0 < seconds * 1000) {
  const start = performance.now();
  try {
    const response = await breaker.execute(({ signal }) => fetch(url, { signal }));
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
