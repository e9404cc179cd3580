// Types of `tripgate/otel`. The meter is @opentelemetry/api's Meter (an
// optional peer dependency); only what instrument() uses of it is named here.
import type { CircuitBreaker, CircuitBreakerGroup } from "./index.js";

/** The part of an OpenTelemetry `Meter` that instrument() uses. */
export interface MeterLike {
  createObservableGauge(name: string, options?: { description?: string }): unknown;
  createObservableCounter(name: string, options?: { description?: string }): unknown;
  addBatchObservableCallback(callback: (result: any) => void, observables: any[]): void;
  removeBatchObservableCallback(callback: (result: any) => void, observables: any[]): void;
}

export interface Instrumentation {
  /** Stops reporting (idempotent). */
  close(): void;
}

/** Registers tripgate.breaker.state, tripgate.breaker.calls and tripgate.breaker.transitions on `meter`. */
export declare function instrument(breakerOrGroup: CircuitBreaker<any> | CircuitBreakerGroup<any>, meter: MeterLike): Instrumentation;
