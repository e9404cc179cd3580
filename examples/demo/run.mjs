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
const cleanup = () => {
  for (const child of children) {
    if (child.exitCode === null) child.kill("SIGTERM");
  }
};
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
console.log(`two clients call it every 100 ms for ${SECONDS} s through a breaker (3 failures tolerated, 1 s reset timeout with backoff);`);
console.log(`a control client makes the same calls with the same timeout and no breaker\n`);

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
  follow(start(process.execPath, [join(here, "client.mjs"), url, String(SECONDS), "--no-breaker"]), "control"),
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
const columns = ["node", "python", "control"];
const rows = [
  ["calls attempted", (c) => c.made + c.rejected],
  ["calls that reached the service", (c) => c.made],
  ["  (the service's own count)", (_c, name) => stats.byClient[name] ?? 0],
  ["  answered 2xx", (c) => c.ok],
  ["  failed (5xx, errors)", (c) => c.failed],
  ["  timed out (aborted at 500 ms)", (c) => c.timedOut],
  ["rejected at once by the breaker", (c) => c.rejected],
  ["time spent waiting in calls (s)", (c) => (c.waitedMs / 1000).toFixed(1)],
  ["final state", (c, name) => (name === "control" ? "(none)" : c.state)],
];
console.log(`\n${"".padEnd(34)}${columns.map((c) => c.padStart(10)).join("")}`);
for (const [label, value] of rows) {
  console.log(`${label.padEnd(34)}${columns.map((name) => String(value(done[name], name)).padStart(10)).join("")}`);
}
const byPhase = phases.map((p) => `${p.name} ${stats.requests[p.name]}`).join(", ");
console.log(`\nthe service received ${received} requests in all (${byPhase}).`);
for (const name of ["node", "python"]) {
  const kept = done.control.made - done[name].made;
  const saved = (done.control.waitedMs - done[name].waitedMs) / 1000;
  console.log(`${name}: ${kept} fewer requests reached the service than the control's, and ${saved.toFixed(1)} s less was spent waiting on it.`);
}

const ok =
  exits.every(([code]) => code === 0) &&
  columns.every((name) => stats.byClient[name] === done[name].made) &&
  done.node.rejected > 0 &&
  done.python.rejected > 0 &&
  done.node.state === "closed" &&
  done.python.state === "closed";
if (!ok) {
  console.error("demo: a client's count and the service's disagree, or a breaker did not close again");
  process.exit(1);
}
