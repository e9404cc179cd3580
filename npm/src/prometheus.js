// tripgate/prometheus: a breaker's or a group's metrics in a prom-client
// registry (prom-client is an optional peer dependency: only this entry
// point imports it). The figures are read from the breakers when the
// registry is scraped.

import client from "prom-client";

import { METRICS, OUTCOMES, STATES, follow } from "./instrumented.js";

/** Per registry: what is instrumented in it, and its three metrics. */
const exported = new WeakMap();

function metricsOf(registry) {
  let entry = exported.get(registry);
  if (entry !== undefined) {
    return entry;
  }
  const sources = new Set();
  const each = (visit) => {
    for (const source of sources) {
      for (const item of source.books()) {
        visit(item);
      }
    }
  };
  const registers = [registry];
  const state = new client.Gauge({
    name: METRICS.state.prometheus,
    help: METRICS.state.help,
    labelNames: ["breaker", "state"],
    registers,
    collect() {
      this.reset();
      each(({ books, stats }) => {
        for (const name of STATES) {
          this.set({ breaker: books.name, state: name }, name === stats.state ? 1 : 0);
        }
      });
    },
  });
  const calls = new client.Counter({
    name: `${METRICS.calls.prometheus}_total`,
    help: METRICS.calls.help,
    labelNames: ["breaker", "outcome"],
    registers,
    collect() {
      this.reset();
      each(({ books, stats }) => {
        const byOutcome = books.calls(stats);
        for (const outcome of OUTCOMES) {
          this.inc({ breaker: books.name, outcome }, byOutcome[outcome]);
        }
      });
    },
  });
  const transitions = new client.Counter({
    name: `${METRICS.transitions.prometheus}_total`,
    help: METRICS.transitions.help,
    labelNames: ["breaker", "from", "to", "reason"],
    registers,
    collect() {
      this.reset();
      each(({ books }) => {
        for (const [labels, count] of books.transitionCounts()) {
          this.inc({ breaker: books.name, ...labels }, count);
        }
      });
    },
  });
  entry = { sources, metrics: [state, calls, transitions] };
  exported.set(registry, entry);
  return entry;
}

/**
 * Exports `tripgate_breaker_state{breaker,state}`,
 * `tripgate_breaker_calls_total{breaker,outcome}` and
 * `tripgate_breaker_transitions_total{breaker,from,to,reason}` for a
 * breaker or a group (`breaker` is the name, or the group key) in
 * `options.registry` (default: prom-client's global registry). Several
 * breakers may share a registry. Returns a handle whose `close()` removes
 * them (and the metrics, once nothing is left in the registry).
 */
export function instrument(breakerOrGroup, options = {}) {
  if (options === null || typeof options !== "object") {
    throw new TypeError(`options must be an object, got ${options === null ? "null" : typeof options}`);
  }
  for (const key of Object.keys(options)) {
    if (key !== "registry") {
      throw new TypeError(`instrument has no option ${JSON.stringify(key)}; valid options: registry`);
    }
  }
  const registry = options.registry ?? client.register;
  if (typeof registry?.registerMetric !== "function") {
    throw new TypeError("registry must be a prom-client Registry");
  }
  const source = follow(breakerOrGroup, "breakerOrGroup");
  const { sources, metrics } = metricsOf(registry);
  sources.add(source);
  let closed = false;
  return {
    close() {
      if (closed) {
        return;
      }
      closed = true;
      source.close();
      sources.delete(source);
      if (sources.size === 0) {
        for (const metric of metrics) {
          registry.removeSingleMetric(metric.name);
        }
        exported.delete(registry);
      }
    },
  };
}
