// `make dashboard`: serves the browser dashboard and, on the same origin, a
// flaky service that loops through an incident (healthy, failing with 503s,
// hanging, recovered), so the dashboard shows the breaker's whole cycle;
// and, on a second port (a second origin, with CORS), a healthy service
// that the page calls through the same tripgate/fetch, with its own breaker.
//
//   node examples/browser/serve.mjs [--port N] [--phases healthy,failing,hanging,recovered]
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const port = Number(arg("port", "8787"));
const phases = arg("phases", "6,8,5,10").split(",").map(Number);
const names = ["healthy", "failing", "hanging", "recovered"];
const cycle = phases.reduce((a, b) => a + b, 0);
const started = performance.now();
const counts = { healthy: 0, failing: 0, hanging: 0, recovered: 0 };

function phaseNow() {
  let t = ((performance.now() - started) / 1000) % cycle;
  for (let i = 0; i < phases.length; i++) {
    if (t < phases[i]) return names[i];
    t -= phases[i];
  }
  return names.at(-1);
}

const FILES = {
  "/": ["index.html", "text/html"],
  "/dashboard.js": ["dashboard.js", "text/javascript"],
  // The package's entry points as a browser imports them: fetch.js imports ./index.js.
  "/dist/index.js": [join("..", "..", "npm", "dist", "index.js"), "text/javascript"],
  "/dist/fetch.js": [join("..", "..", "npm", "dist", "fetch.js"), "text/javascript"],
};

// The second origin: always healthy.
const healthyCount = { requests: 0 };
const healthy = createServer((req, res) => {
  healthyCount.requests += 1;
  res.writeHead(200, { "access-control-allow-origin": "*", "cache-control": "no-store" }).end("ok");
});
const healthyListening = new Promise((resolve) => healthy.listen(0, "127.0.0.1", resolve));

const server = createServer((req, res) => {
  const url = new URL(req.url, "http://x");
  if (url.pathname === "/api") {
    const phase = phaseNow();
    counts[phase] += 1;
    if (phase === "failing") return res.writeHead(503).end("unavailable");
    if (phase === "hanging") {
      const timer = setTimeout(() => res.writeHead(200).end("late"), 3_000);
      return res.on("close", () => clearTimeout(timer));
    }
    return res.writeHead(200).end("ok");
  }
  if (url.pathname === "/stats") {
    const healthyOrigin = `http://127.0.0.1:${healthy.address().port}`;
    return res
      .writeHead(200, { "content-type": "application/json" })
      .end(JSON.stringify({ phase: phaseNow(), requests: counts, healthyOrigin, healthyRequests: healthyCount.requests }));
  }
  const file = FILES[url.pathname];
  if (file === undefined) return res.writeHead(404).end();
  res.writeHead(200, { "content-type": file[1], "cache-control": "no-store" }).end(readFileSync(join(here, file[0])));
});

await healthyListening;
server.listen(port, "127.0.0.1", () => {
  console.log(`tripgate dashboard: http://127.0.0.1:${server.address().port}/  (incident cycle ${phases.join("/")} s; Ctrl-C to stop)`);
});
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    healthy.close();
    server.close(() => process.exit(0));
  });
}
