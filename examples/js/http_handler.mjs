// A plain node:http service whose handler depends on a flaky downstream
// service: the breaker turns a dead dependency into a fast 503 with a
// Retry-After header instead of a pile of hanging requests.
//
//   node examples/js/http_handler.mjs     (after `make js-build`)
import { createServer } from "node:http";

import { CircuitBreaker, CircuitOpenError } from "../../npm/dist/index.js";

let downstreamUp = false;
let downstreamCalls = 0;
async function fetchPrices() {
  downstreamCalls += 1;
  if (!downstreamUp) throw new Error("ECONNREFUSED");
  return { eur: 1.0, usd: 1.08 };
}

const prices = new CircuitBreaker({ name: "prices", failureTolerance: 1, resetTimeout: 30_000 });

const server = createServer(async (_req, res) => {
  try {
    const body = await prices.execute(fetchPrices);
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
  } catch (error) {
    if (error instanceof CircuitOpenError) {
      const seconds = Math.ceil((error.retryAfter ?? 1000) / 1000);
      res.writeHead(503, { "retry-after": String(seconds) }).end("prices unavailable");
    } else {
      res.writeHead(502).end("prices failed");
    }
  }
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const url = `http://127.0.0.1:${server.address().port}/`;

try {
  const statuses = [];
  for (let i = 0; i < 5; i++) {
    const response = await fetch(url);
    statuses.push(`${response.status}${response.headers.get("retry-after") ? ` retry-after=${response.headers.get("retry-after")}` : ""}`);
  }
  console.log(`  responses: ${statuses.join(", ")}; downstream calls: ${downstreamCalls}`);
  if (downstreamCalls !== 2 || !statuses[4].startsWith("503 retry-after=30")) throw new Error("expected fast 503s once open");
  prices.forceClosed(); // an operator's override
  downstreamUp = true;
  const ok = await fetch(url);
  console.log(`  after forceClosed and recovery: ${ok.status} ${await ok.text()}`);
  if (ok.status !== 200) throw new Error("expected 200");
} finally {
  server.close();
}
