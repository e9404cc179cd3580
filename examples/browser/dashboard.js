// The dashboard: a fetch layer built with tripgate/fetch, one breaker per
// origin, calling two origins every 200 ms: this page's flaky /api and a
// second, healthy origin. The page draws the flaky origin's calls and
// states live, and every origin's breaker in a table: the healthy origin's
// breaker never rejects while the flaky one is open.
import { CallTimeoutError, CircuitOpenError } from "/dist/index.js";
import { createFetch } from "/dist/fetch.js";

const WINDOW = 30_000;
const COLORS = { succeeded: "#2f9e44", failed: "#e03131", timed_out: "#f59f00", rejected: "#adb5bd" };
const BANDS = { closed: "#d3f9d8", open: "#ffe3e3", half_open: "#fff3bf", forced_open: "#f3d9fa", forced_closed: "#d0ebff" };

const { healthyOrigin } = await (await fetch("/stats")).json();
const flakyOrigin = location.origin;
const guardedFetch = createFetch({ failureTolerance: 2, resetTimeout: 1_000, callTimeout: 800 });
const breaker = guardedFetch.group.get(flakyOrigin);
const calls = [];
const healthyCalls = [];
const transitions = [];
const bands = [{ state: breaker.state, from: performance.now() }];
guardedFetch.group.on("stateChange", (t) => {
  if (t.key === flakyOrigin) {
    transitions.push(t);
    bands.push({ state: t.to, from: t.at });
  }
});
window.dashboard = { breaker, group: guardedFetch.group, calls, healthyCalls, transitions, flakyOrigin, healthyOrigin };

/** One request through the fetch layer, as the chart shows it. */
async function request(url) {
  const at = performance.now();
  let kind;
  try {
    const response = await guardedFetch(url);
    kind = response.ok ? "succeeded" : "failed";
  } catch (error) {
    kind = error instanceof CircuitOpenError ? "rejected" : error instanceof CallTimeoutError ? "timed_out" : "failed";
  }
  // Where the flaky origin's breaker stood when this call ended.
  return { at, kind, flakyState: breaker.state };
}

async function callOnce() {
  const [flaky, healthy] = await Promise.all([request("/api"), request(`${healthyOrigin}/api`)]);
  calls.push(flaky);
  healthyCalls.push(healthy);
}

const svg = document.getElementById("chart");
const NS = "http://www.w3.org/2000/svg";
function shape(name, attributes) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, v);
  return node;
}

function render() {
  const now = performance.now();
  const x = (t) => ((t - (now - WINDOW)) / WINDOW) * 900;
  const nodes = [];
  bands.forEach((band, i) => {
    const end = bands[i + 1]?.from ?? now;
    if (end < now - WINDOW) return;
    const from = Math.max(band.from, now - WINDOW);
    nodes.push(
      shape("rect", { x: x(from), y: 0, width: Math.max(1, x(end) - x(from)), height: 180, fill: BANDS[band.state], "data-state": band.state, class: "band" }),
    );
  });
  const rows = { succeeded: 40, failed: 75, timed_out: 110, rejected: 145 };
  for (const call of calls) {
    if (call.at < now - WINDOW) continue;
    nodes.push(shape("circle", { cx: x(call.at), cy: rows[call.kind], r: 4, fill: COLORS[call.kind], class: `call ${call.kind}` }));
  }
  svg.replaceChildren(...nodes);

  const state = breaker.state;
  const badge = document.getElementById("state");
  badge.textContent = state;
  badge.className = state;
  const origins = guardedFetch.group.stats();
  document.getElementById("origins").replaceChildren(
    ...Object.entries(origins).map(([origin, s]) => {
      const row = document.createElement("tr");
      const name = origin === flakyOrigin ? "flaky" : "healthy";
      row.dataset.origin = name;
      row.innerHTML = `<td>${name} (${origin})</td><td class="origin-state">${s.state}</td><td>${s.successes}</td><td>${s.failures}</td><td data-origin-rejections="${name}">${s.rejections}</td>`;
      return row;
    }),
  );
  const stats = breaker.stats();
  const shown = ["admitted", "successes", "failures", "rejections", "released", "consecutiveFailures", "staleOutcomes", "retryAfter"];
  document.getElementById("stats").replaceChildren(
    ...shown.map((key) => {
      const row = document.createElement("tr");
      const value = stats[key] === null ? "–" : key === "retryAfter" ? `${Math.round(stats[key])} ms` : stats[key];
      row.innerHTML = `<td>${key}</td><td data-stat="${key}">${value}</td>`;
      return row;
    }),
  );
}

document.getElementById("force-open").onclick = () => {
  breaker.forceOpen();
  render();
};
document.getElementById("force-closed").onclick = () => {
  breaker.forceClosed();
  render();
};
document.getElementById("reset").onclick = () => {
  breaker.reset();
  render();
};

setInterval(callOnce, 200);
setInterval(render, 250);
render();
