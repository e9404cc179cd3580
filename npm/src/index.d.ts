// Types of the `tripgate` npm package. Times are milliseconds.

export type State = "closed" | "open" | "half_open" | "forced_open" | "forced_closed";
export type Reason =
  | "failure_tolerance_exceeded"
  | "failure_rate_exceeded"
  | "retry_after_received"
  | "reset_timeout_elapsed"
  | "trial_succeeded"
  | "trial_failed"
  | "trial_timed_out"
  | "forced_open"
  | "forced_closed"
  | "reset";

export declare const STATES: readonly State[];
export declare const REASONS: readonly Reason[];
export declare const OPTION_NAMES: readonly string[];
export declare const EVENTS: readonly EventName[];
/** Bytes of WebAssembly memory in use by every breaker together (a diagnostic for leak checks). */
export declare function wasmMemoryBytes(): number;

/** Trip when the window holds at least `minimumCalls` outcomes and failures/outcomes >= threshold. Exactly one window. */
export type FailureRateOptions =
  | { threshold: number; minimumCalls: number; windowCalls: number; windowDuration?: undefined }
  | { threshold: number; minimumCalls: number; windowDuration: number; windowCalls?: undefined };

export interface BackoffOptions {
  multiplier: number;
  maxResetTimeout: number;
  jitter?: number;
}

export interface CircuitBreakerOptions<R = unknown> {
  failureTolerance?: number;
  failureRate?: FailureRateOptions;
  slowCallDuration?: number;
  resetTimeout?: number;
  backoff?: BackoffOptions;
  halfOpenMaxCalls?: number;
  successThreshold?: number;
  trialTimeout?: number;
  /** The longest a Retry-After hint keeps the breaker open (default 300000: 5 minutes). */
  maxRetryAfter?: number;
  callTimeout?: number;
  /** Whether an error counts as a failure (default: every error does); false releases the call. */
  isFailure?: (error: unknown) => boolean;
  /** Whether a returned value counts as a failure (default: never). */
  isResultFailure?: (value: R) => boolean;
  /**
   * A failed call's Retry-After hint in milliseconds, found in its error or
   * (for a result that isResultFailure counts) its value; null or undefined
   * for none. A failure with a hint opens the breaker at once.
   */
  retryAfterHint?: (errorOrResult: unknown) => number | null | undefined;
  /**
   * Answers a call that would end in an error (a CircuitOpenError, a
   * CallTimeoutError or the call's own error, counted or not; not the
   * caller's abort): its result becomes the call's. execute's own
   * `fallback` replaces it.
   */
  fallback?: (error: unknown) => R | PromiseLike<R>;
  /** Milliseconds from any origin (default: performance.now). */
  clock?: () => number;
  name?: string;
  seed?: number;
}

/** What `breaker.options` holds: every option, defaults filled in; null where unset. */
export interface EffectiveOptions<R = unknown> {
  readonly failureTolerance: number;
  readonly failureRate: Readonly<FailureRateOptions> | null;
  readonly slowCallDuration: number | null;
  readonly resetTimeout: number;
  readonly backoff: Readonly<Required<BackoffOptions>> | null;
  readonly halfOpenMaxCalls: number;
  readonly successThreshold: number;
  readonly trialTimeout: number;
  readonly maxRetryAfter: number;
  readonly callTimeout: number | null;
  readonly isFailure: ((error: unknown) => boolean) | null;
  readonly isResultFailure: ((value: R) => boolean) | null;
  readonly retryAfterHint: ((errorOrResult: unknown) => number | null | undefined) | null;
  readonly fallback: ((error: unknown) => R | PromiseLike<R>) | null;
  readonly clock: () => number;
  readonly name: string | null;
  readonly seed: number;
}

export interface Stats {
  state: State;
  generation: number;
  admitted: number;
  successes: number;
  failures: number;
  slowCalls: number;
  rejections: number;
  released: number;
  staleOutcomes: number;
  trialTimeouts: number;
  /** Permits issued before a restore, never to be reported here (counted in `released` too). */
  abandoned: number;
  consecutiveFailures: number;
  windowCalls: number;
  windowFailures: number;
  failureRate: number | null;
  trialsInFlight: number;
  inFlight: number;
  lastTransitionAt: number | null;
  retryAfter: number | null;
}

export interface StateChange {
  from: State;
  to: State;
  reason: Reason;
  at: number;
  generation: number;
}

export interface CallOutcome {
  stale: boolean;
  slow: boolean;
  error?: unknown;
  /** Milliseconds from the call's start to its outcome; null when the clock failed. */
  duration: number | null;
}

export interface FallbackEvent {
  /** The error the fallback answers. */
  error: unknown;
}

export interface Rejection {
  state: State;
  retryAfter: number | null;
}

export interface TimeoutEvent {
  /** null when the clock failed while the call was being timed. */
  duration: number | null;
  error: CallTimeoutError;
}

export interface EventMap {
  stateChange: StateChange;
  success: CallOutcome;
  failure: CallOutcome;
  rejected: Rejection;
  timeout: TimeoutEvent;
  fallback: FallbackEvent;
  error: unknown;
}
export type EventName = keyof EventMap;

export interface ExecuteOptions<T = unknown> {
  /** Aborting it aborts the call's signal; the call is then released, not counted. */
  signal?: AbortSignal;
  /** Replaces the breaker's fallback for this call. */
  fallback?: (error: unknown) => T | PromiseLike<T>;
}

export interface CallContext {
  /** Aborted on callTimeout or when the caller's signal aborts. */
  readonly signal: AbortSignal;
}

export declare class TripgateError extends Error {
  readonly code: string;
}

export declare class CircuitOpenError extends TripgateError {
  readonly code: "circuit_open";
  readonly state: State;
  readonly retryAfter: number | null;
  readonly breakerName: string | undefined;
  /** The error of the failure that opened the breaker, where there was one. */
  readonly cause?: unknown;
}

export declare class CallTimeoutError extends TripgateError {
  readonly code: "call_timeout";
  readonly timeout: number;
  readonly breakerName: string | undefined;
}

export declare class InvalidSnapshotError extends TripgateError {
  readonly code: "invalid_snapshot";
  readonly field: string;
}

/** Counters kept across states (and snapshots). */
export interface SnapshotCounters {
  admitted: number;
  successes: number;
  failures: number;
  slow_calls: number;
  rejections: number;
  released: number;
  stale_outcomes: number;
  trial_timeouts: number;
  /** Absent from version-1 snapshots. */
  abandoned?: number;
}

/** A failure-rate window's contents: outcomes oldest first (true = failure), or time buckets. */
export type SnapshotWindow =
  | null
  | { kind: "calls"; capacity: number; outcomes: boolean[] }
  | { kind: "buckets"; width: number; elapsed: number; buckets: { index: number; calls: number; failures: number }[] };

/**
 * The snapshot format shared by every language (docs/semantics.md,
 * "Snapshots"): snake_case keys, times in nanoseconds relative to when it was
 * taken. JSON-serializable as is.
 */
export interface Snapshot {
  version: number;
  state: State;
  generation: number;
  consecutive_failures: number;
  trial_successes: number;
  open_remaining: number;
  nominal_open_duration: number;
  last_transition_age: number | null;
  /** A decimal string: a 64-bit integer does not survive a JS number. */
  rng_state: string;
  window: SnapshotWindow;
  counters: SnapshotCounters;
}

export declare class Permit {
  private constructor();
  readonly isTrial: boolean;
  success(): void;
  /** `retryAfter`: the server's Retry-After hint in milliseconds, which opens the breaker at once. */
  failure(options?: { retryAfter?: number | null }): void;
  release(): void;
}

export declare class CircuitBreaker<R = unknown> {
  constructor(options?: CircuitBreakerOptions<R>);
  static restore<R = unknown>(snapshot: Snapshot, options?: CircuitBreakerOptions<R>): CircuitBreaker<R>;
  readonly name: string | undefined;
  /** The effective options, defaults filled in (the seed in use), frozen. */
  readonly options: EffectiveOptions<R>;
  readonly state: State;
  readonly retryAfter: number | null;
  stats(): Stats;
  forceOpen(): void;
  forceClosed(): void;
  reset(): void;
  snapshot(): Snapshot;
  on<E extends EventName>(event: E, listener: (payload: EventMap[E]) => void): () => void;
  tryAcquire(): Permit | null;
  execute<T extends R>(fn: (context: CallContext) => T | PromiseLike<T>, options?: ExecuteOptions<T>): Promise<T>;
  wrap<A extends unknown[], T extends R>(fn: (...args: A) => T | PromiseLike<T>): (...args: A) => Promise<T>;
  dispose(): void;
}

/** Options of a CircuitBreakerGroup: every breaker option but `name` (each breaker is named by its key), and `maxBreakers`. */
export interface CircuitBreakerGroupOptions<R = unknown> extends Omit<CircuitBreakerOptions<R>, "name"> {
  /** The most breakers the group holds (default 1,000). */
  maxBreakers?: number;
}

/** A group listener's payload: the breaker's event payload with its key (an "error" payload is `{ key, error }`). */
export type GroupEventMap = {
  [E in Exclude<EventName, "error">]: EventMap[E] & { key: string };
} & { error: { key: string; error: unknown } };

/** What `_watch` reports to an integration: breakers as the group creates and removes them. */
export interface GroupWatcher<R = unknown> {
  added?(key: string, breaker: CircuitBreaker<R>): void;
  removed?(key: string, breaker: CircuitBreaker<R>): void;
}

/**
 * One breaker per key (an origin, a host, an endpoint), created on first use
 * with the group's options. When full, the least recently used breaker that
 * is closed with no call in flight is evicted; if none is, `get` throws a
 * TripgateError with code "group_full".
 */
export declare class CircuitBreakerGroup<R = unknown> {
  constructor(options?: CircuitBreakerGroupOptions<R>);
  readonly maxBreakers: number;
  get(key: string): CircuitBreaker<R>;
  execute<T extends R>(key: string, fn: (context: CallContext) => T | PromiseLike<T>, options?: ExecuteOptions<T>): Promise<T>;
  keys(): string[];
  delete(key: string): boolean;
  stats(): Record<string, Stats>;
  on<E extends EventName>(event: E, listener: (payload: GroupEventMap[E]) => void): () => void;
  /** For integrations: watches breakers come and go; returns a function that stops it. */
  _watch(watcher: GroupWatcher<R>): () => void;
}
