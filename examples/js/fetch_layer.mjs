// A fetch layer as a frontend or Node service would write it: every request
// to one backend goes through one breaker; 5xx answers count as failures and
// slow requests are aborted. Runs against a local flaky server it starts.
//
//   node examples/js/fetch_layer.mjs      (after `make js-build`)
import { createServer } from "node:http";

import { CircuitBreaker, CircuitOpenError } from "../../npm/dist/index.js";

function createApi(baseUrl) {
  const breaker = new CircuitBreaker({
    name: "inventory-api",
    failureTolerance: 2,
    resetTimeout: 200,
    callTimeout: 1_000,
    isResultFailure: (response) => response.status >= 500,
  });
  breaker.on("stateChange", ({ from, to, reason }) => console.log(`  breaker: ${from} -> ${to} (${reason})`));
  return {
    breaker,
    async stock(sku) {
      try {
        const response = await breaker.execute(({ signal }) => fetch(`${baseUrl}/stock/${sku}`, { signal }));
        return response.ok ? Number(await response.text()) : null;
      } catch (error) {
        if (error instanceof CircuitOpenError) {
          return null; // degrade at once instead of waiting on a dead backend
        }
        throw error;
      }
    },
  };
}

let healthy = false;
let requests = 0;
const server = createServer((_req, res) => {
  requests += 1;
  res.writeHead(healthy ? 200 : 503).end(healthy ? "42" : "unavailable");
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const api = createApi(`http://127.0.0.1:${server.address().port}`);

try {
  const answers = [];
  for (let i = 0; i < 6; i++) answers.push(await api.stock("sku-1"));
  console.log(`  while down: answers ${JSON.stringify(answers)}, requests that reached the server: ${requests}`);
  if (requests !== 3 || api.breaker.state !== "open") throw new Error("expected the breaker to stop the calls after 3 failures");

  healthy = true;
  await new Promise((resolve) => setTimeout(resolve, 250));
  const stock = await api.stock("sku-1");
  console.log(`  after recovery: stock ${stock}, state ${api.breaker.state}`);
  if (stock !== 42 || api.breaker.state !== "closed") throw new Error("expected the breaker to close after recovery");
} finally {
  server.close();
}
