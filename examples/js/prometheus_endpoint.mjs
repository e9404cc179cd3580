// A /metrics endpoint for Prometheus (prom-client) showing a breaker group's
// series, scraped by the example itself: tripgate_breaker_state,
// tripgate_breaker_calls_total and tripgate_breaker_transitions_total.
//
//   node examples/js/prometheus_endpoint.mjs      (after `make js-build`)
import { createServer } from "node:http";
import { createRequire } from "node:module";

import { CircuitBreakerGroup } from "../../npm/dist/index.js";
import { instrument } from "../../npm/dist/prometheus.js";

// prom-client as an application has it installed (here: the npm package's dev dependency).
const client = createRequire(new URL("../../npm/package.json", import.meta.url))("prom-client");
const registry = new client.Registry();
const group = new CircuitBreakerGroup({ failureTolerance: 1 });
const metrics = instrument(group, { registry });

const server = createServer(async (req, res) => {
  if (req.url !== "/metrics") return res.writeHead(404).end();
  res.writeHead(200, { "content-type": registry.contentType }).end(await registry.metrics());
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));

try {
  await group.execute("search", () => "ok");
  for (let i = 0; i < 3; i++) {
    await group.execute("payments", () => Promise.reject(new Error("down"))).catch(() => {});
  }
  const scraped = await (await fetch(`http://127.0.0.1:${server.address().port}/metrics`)).text();
  const lines = scraped.split("\n").filter((line) => line.startsWith("tripgate_") && !line.endsWith(" 0"));
  console.log(lines.map((line) => `  ${line}`).join("\n"));
  for (const expected of [
    'tripgate_breaker_state{breaker="payments",state="open"} 1',
    'tripgate_breaker_calls_total{breaker="payments",outcome="failure"} 2',
    'tripgate_breaker_calls_total{breaker="payments",outcome="rejected"} 1',
    'tripgate_breaker_calls_total{breaker="search",outcome="success"} 1',
    'tripgate_breaker_transitions_total{breaker="payments",from="closed",to="open",reason="failure_tolerance_exceeded"} 1',
  ]) {
    if (!lines.includes(expected)) throw new Error(`the scrape lacks ${expected}`);
  }
} finally {
  metrics.close();
  server.close();
}
