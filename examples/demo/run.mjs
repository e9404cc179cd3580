// `make demo`: a real flaky HTTP service goes through an incident while a
// Node client and a Python client call it through tripgate. Prints a live
// timeline, then what the breakers saved, measured by the service's own
// request counts. Cleans up every process it starts, also on Ctrl-C.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const python = process.env.TRIPGATE_PYTHON ?? join(here, "..", "..", ".venv", "bin", "python");
const PHASES = [4, 6, 5, 6]; // seconds healthy, failing, hanging, recovered
const SECONDS = PHASES.reduce((a, b) => a + b, 0);

const children = [];
const cleanup = () => children.forEach((child) => child.exitCode === null && child.kill("SIGTERM"));
process.on("exit", cleanup);
process.on("SIGINT", () => {
  console.log("\ninterrupted: stopping the service and the clients");
  cleanup();
  process.exit(130);
});

function start(command, args) {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "inherit"] });
  children.push(child);
  return child;
}

const t0 = performance.now();
const clock = () => ((performance.now() - t0) / 1000).toFixed(1).padStart(5);
const say = (who, text) => console.log(`[${clock()}s] ${who.padEnd(8)} ${text}`);

const service = start(process.execPath, [join(here, "flaky_service.mjs"), ...PHASES.map(String)]);
const [firstLine] = await once(createInterface({ input: service.stdout }), "line");
const { port, phases } = JSON.parse(firstLine);
const url = `http://127.0.0.1:${port}/`;
console.log(`tripgate demo: a service on ${url} goes healthy -> failing (503) -> hanging (3 s, over the 500 ms call timeout) -> recovered`);
console.log(`two clients call it every 100 ms for ${SECONDS} s through a breaker (3 failures tolerated, 1 s reset timeout with backoff)\n`);

const done = {};
function follow(child, name) {
  createInterface({ input: child.stdout }).on("line", (line) => {
    const event = JSON.parse(line);
    if (event.event === "state") say(name, `${event.from} -> ${event.to}  (${event.reason})`);
    if (event.event === "done") done[name] = event;
  });
  return once(child, "exit");
}
const finished = [
  follow(start(process.execPath, [join(here, "client.mjs"), url, String(SECONDS)]), "node"),
  follow(start(python, [join(here, "client.py"), url, String(SECONDS)]), "python"),
];

let phase = "";
const ticker = setInterval(async () => {
  try {
    const stats = await (await fetch(`${url}stats`)).json();
    const total = Object.values(stats.requests).reduce((a, b) => a + b, 0);
    if (stats.phase !== phase) {
      phase = stats.phase;
      say("service", `is ${phase}`);
    } else {
      say("service", `${phase}; requests received so far: ${total}`);
    }
  } catch {
    // The service is shutting down.
  }
}, 1000);

const exits = await Promise.all(finished);
clearInterval(ticker);
const stats = await (await fetch(`${url}stats`)).json();
service.kill("SIGTERM");

const received = Object.values(stats.requests).reduce((a, b) => a + b, 0);
const rows = [
  ["calls attempted", (c) => c.made + c.rejected],
  ["calls that reached the service", (c) => c.made],
  ["  answered 2xx", (c) => c.ok],
  ["  failed (5xx, errors)", (c) => c.failed],
  ["  timed out (aborted at 500 ms)", (c) => c.timedOut],
  ["rejected at once by the breaker", (c) => c.rejected],
  ["time spent in calls (s)", (c) => (c.waitedMs / 1000).toFixed(1)],
  ["final state", (c) => c.state],
];
console.log(`\n${"".padEnd(34)}${"node".padStart(10)}${"python".padStart(10)}`);
for (const [label, value] of rows) {
  console.log(`${label.padEnd(34)}${String(value(done.node)).padStart(10)}${String(value(done.python)).padStart(10)}`);
}
const byPhase = phases.map((p) => `${p.name} ${stats.requests[p.name]}`).join(", ");
console.log(`\nthe service's own count: ${received} requests reached it (${byPhase}).`);
const attempted = done.node.made + done.node.rejected + done.python.made + done.python.rejected;
console.log(`without breakers all ${attempted} attempted calls would have reached it; the breakers kept ${attempted - received} away.`);

const ok =
  exits.every(([code]) => code === 0) &&
  received === done.node.made + done.python.made &&
  done.node.rejected > 0 &&
  done.python.rejected > 0 &&
  done.node.state === "closed" &&
  done.python.state === "closed";
if (!ok) {
  console.error("demo: the clients' and the service's counts disagree, or a breaker did not close again");
  process.exit(1);
}
