// tripgate/otel: a breaker's or a group's metrics through an OpenTelemetry
// Meter (from @opentelemetry/api, an optional peer dependency that this
// module never imports: the meter is handed in). A separate entry point.

import { METRICS, OUTCOMES, STATES, follow } from "./instrumented.js";

/**
 * Registers, on `meter`, the observable instruments
 * `tripgate.breaker.state` (gauge: 1 for the current state, attribute
 * `state`), `tripgate.breaker.calls` (counter, attribute `outcome`) and
 * `tripgate.breaker.transitions` (counter, attributes `from`, `to`,
 * `reason`), each with the attribute `breaker` (the name, or the group
 * key). A group's breakers are covered as they are created; an evicted or
 * deleted one's series stop. Returns a handle whose `close()` stops it all.
 */
export function instrument(breakerOrGroup, meter) {
  if (meter === null || typeof meter !== "object" || typeof meter.createObservableGauge !== "function") {
    throw new TypeError(`meter must be an OpenTelemetry Meter, got ${meter === null ? "null" : typeof meter}`);
  }
  const followed = follow(breakerOrGroup, "breakerOrGroup");
  const state = meter.createObservableGauge(METRICS.state.otel, { description: METRICS.state.help });
  const calls = meter.createObservableCounter(METRICS.calls.otel, { description: METRICS.calls.help });
  const transitions = meter.createObservableCounter(METRICS.transitions.otel, { description: METRICS.transitions.help });
  const observe = (result) => {
    for (const { books, stats } of followed.books()) {
      const breaker = books.name;
      for (const name of STATES) {
        result.observe(state, name === stats.state ? 1 : 0, { breaker, state: name });
      }
      const byOutcome = books.calls(stats);
      for (const outcome of OUTCOMES) {
        result.observe(calls, byOutcome[outcome], { breaker, outcome });
      }
      for (const [attributes, count] of books.transitionCounts()) {
        result.observe(transitions, count, { breaker, ...attributes });
      }
    }
  };
  const observables = [state, calls, transitions];
  meter.addBatchObservableCallback(observe, observables);
  let closed = false;
  return {
    close() {
      if (!closed) {
        closed = true;
        meter.removeBatchObservableCallback(observe, observables);
        followed.close();
      }
    },
  };
}
