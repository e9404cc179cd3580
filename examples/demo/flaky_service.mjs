// A real HTTP service that goes through a scripted incident: healthy, then
// failing with 503s, then hanging (slower than the clients' call timeout),
// then recovered. It counts every request that reaches it, by phase and by
// client (the X-Client header).
//
//   node examples/demo/flaky_service.mjs [phase seconds...]
// prints {"port": N} on its first line; GET /stats returns its counts.
import { createServer } from "node:http";

const [healthy = 4, failing = 6, hanging = 5, recovered = 6] = process.argv.slice(2).map(Number);
export const PHASES = [
  { name: "healthy", until: healthy },
  { name: "failing", until: healthy + failing },
  { name: "hanging", until: healthy + failing + hanging },
  { name: "recovered", until: healthy + failing + hanging + recovered },
];

const started = performance.now();
const counts = { healthy: 0, failing: 0, hanging: 0, recovered: 0 };
const byClient = {};
const phaseNow = () => {
  const t = (performance.now() - started) / 1000;
  return (PHASES.find((p) => t < p.until) ?? PHASES.at(-1)).name;
};

const server = createServer((req, res) => {
  if (req.url === "/stats") {
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ phase: phaseNow(), requests: counts, byClient }));
    return;
  }
  const phase = phaseNow();
  counts[phase] += 1;
  const client = req.headers["x-client"] ?? "unknown";
  byClient[client] = (byClient[client] ?? 0) + 1;
  if (phase === "failing") {
    res.writeHead(503).end("unavailable");
  } else if (phase === "hanging") {
    const timer = setTimeout(() => res.writeHead(200).end("late"), 3_000);
    res.on("close", () => clearTimeout(timer));
  } else {
    res.writeHead(200).end("ok");
  }
});
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port, phases: PHASES })}\n`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
process.on("SIGINT", () => server.close(() => process.exit(0)));
