// Types of `tripgate/prometheus` (for prom-client, an optional peer dependency).
import type { Registry } from "prom-client";
import type { CircuitBreaker, CircuitBreakerGroup } from "./index.js";

export interface Instrumentation {
  /** Stops exporting this breaker or group (idempotent). */
  close(): void;
}

export interface InstrumentOptions {
  /** The registry to export to (default: prom-client's global registry). */
  registry?: Registry;
}

/** Exports tripgate_breaker_state, tripgate_breaker_calls_total and tripgate_breaker_transitions_total. */
export declare function instrument(breakerOrGroup: CircuitBreaker<any> | CircuitBreakerGroup<any>, options?: InstrumentOptions): Instrumentation;
