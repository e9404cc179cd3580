// A fetch layer built with tripgate/fetch: one breaker per origin, against
// a local server that answers 429 Too Many Requests with Retry-After. The
// throttled origin's breaker opens at once for the time the server asked
// for, and its requests fail fast without reaching the server; another
// origin is not affected.
//
//   node examples/js/fetch_retry_after.mjs      (after `make js-build`)
import { createServer } from "node:http";

import { CircuitOpenError } from "../../npm/dist/index.js";
import { createFetch } from "../../npm/dist/fetch.js";

async function listen(handler) {
  const server = createServer(handler);
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  server.origin = `http://127.0.0.1:${server.address().port}`;
  return server;
}

let throttledRequests = 0;
const throttled = await listen((_req, res) => {
  throttledRequests += 1;
  res.writeHead(429, { "retry-after": "2" }).end("slow down");
});
const other = await listen((_req, res) => res.writeHead(200).end("fine"));

// The defaults: key = origin, failures = 5xx and 429, Retry-After honoured.
const guardedFetch = createFetch({ failureTolerance: 5, resetTimeout: 500 });
guardedFetch.group.on("stateChange", ({ key, from, to, reason }) => console.log(`  ${key}: ${from} -> ${to} (${reason})`));

try {
  const first = await guardedFetch(`${throttled.origin}/orders`);
  console.log(`  first answer: ${first.status} ${await first.text()} (returned to the caller, counted as a failure)`);
  const breaker = guardedFetch.group.get(throttled.origin);
  console.log(`  the throttled origin's breaker is ${breaker.state}, retry after ${Math.round(breaker.retryAfter)} ms`);
  if (breaker.state !== "open" || breaker.retryAfter < 1500) throw new Error("expected the breaker to open for the server's Retry-After");

  let rejected = 0;
  for (let i = 0; i < 5; i++) {
    await guardedFetch(`${throttled.origin}/orders`).catch((error) => {
      if (!(error instanceof CircuitOpenError)) throw error;
      rejected += 1;
    });
  }
  const fine = await guardedFetch(`${other.origin}/`);
  console.log(`  5 more requests rejected at once: ${rejected}; the server saw ${throttledRequests}; the other origin answered ${fine.status}`);
  if (rejected !== 5 || throttledRequests !== 1 || fine.status !== 200) throw new Error("expected fast rejections and an unaffected origin");
} finally {
  throttled.close();
  other.close();
}
