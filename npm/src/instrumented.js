// What the metrics integrations (otel.js, prometheus.js) read from a
// breaker or a group, in one place: the breakers by name (a group's by key,
// following its breakers as they come and go), and per breaker the figures
// of the three series every integration exports:
//   state        1 for the current state, 0 for the others
//   calls        by outcome: success, failure, rejected, released, timeout
//                (a timed-out call counts once, as timeout)
//   transitions  by from, to and reason
// The figures are cumulative, read from the breaker's stats when the
// metrics are collected, so that no per-call work is added.

import { CALL_OUTCOMES as OUTCOMES, METRICS } from "./generated.js";
import { CircuitBreaker, CircuitBreakerGroup, STATES } from "./index.js";

// The series' names, descriptions and outcomes are the core's (the binding kit).
export { METRICS, OUTCOMES, STATES };

/** One breaker's books beside its stats: timeouts and transitions, counted from its events. */
class Books {
  constructor(name, breaker) {
    this.name = name;
    this.breaker = breaker;
    this.timeouts = 0;
    /** "from\tto\treason" -> count */
    this.transitions = new Map();
    const unsubscribe = [
      breaker.on("timeout", () => {
        this.timeouts += 1;
      }),
      breaker.on("stateChange", ({ from, to, reason }) => {
        const key = `${from}\t${to}\t${reason}`;
        this.transitions.set(key, (this.transitions.get(key) ?? 0) + 1);
      }),
    ];
    this.detach = () => {
      for (const stop of unsubscribe) {
        stop();
      }
    };
  }

  /** The calls series' figures, by outcome. */
  calls(stats) {
    return {
      success: stats.successes,
      failure: Math.max(0, stats.failures - this.timeouts),
      rejected: stats.rejections,
      released: stats.released,
      timeout: this.timeouts,
    };
  }

  /** Each transition counted so far: [{ from, to, reason }, count]. */
  *transitionCounts() {
    for (const [key, count] of this.transitions) {
      const [from, to, reason] = key.split("\t");
      yield [{ from, to, reason }, count];
    }
  }
}

/**
 * Follows `target` (a CircuitBreaker or a CircuitBreakerGroup): `books()`
 * lists what every breaker it covers has to report; `close()` stops.
 * `option` names the argument in errors.
 */
export function follow(target, option) {
  const followed = new Map();
  let stopWatching = () => {};
  if (target instanceof CircuitBreaker) {
    followed.set(target, new Books(target.name ?? "", target));
  } else if (target instanceof CircuitBreakerGroup) {
    stopWatching = target._watch({
      added: (key, breaker) => followed.set(breaker, new Books(key, breaker)),
      removed: (_key, breaker) => {
        followed.get(breaker)?.detach();
        followed.delete(breaker);
      },
    });
  } else {
    throw new TypeError(`${option} must be a CircuitBreaker or a CircuitBreakerGroup, got ${target === null ? "null" : typeof target}`);
  }
  return {
    *books() {
      for (const books of [...followed.values()]) {
        let stats;
        try {
          stats = books.breaker.stats();
        } catch {
          // Disposed: nothing more to report.
          continue;
        }
        yield { books, stats };
      }
    },
    close() {
      stopWatching();
      for (const books of followed.values()) {
        books.detach();
      }
      followed.clear();
    },
  };
}
