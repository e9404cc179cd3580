// tripgate's errors: each a TripgateError with a stable `code` shared with
// the other languages (docs/semantics.md, "What the bindings own"), and the
// conversion of a trap from exhausted WebAssembly memory.

import { MESSAGE_CALL_TIMEOUT, MESSAGE_CIRCUIT_OPEN, MESSAGE_DISPOSED, REJECTION_MESSAGES } from "./generated.js";

/** Each template split once into literal text and placeholder names, alternating. */
const compiled = new Map();

/**
 * A message template of the kit with its placeholders filled from `values`
 * (by concatenation of the template's parts, split once: a rejection builds
 * its message on the hot path of an open breaker).
 */
export function message(template, values) {
  let parts = compiled.get(template);
  if (parts === undefined) {
    parts = template.split(/\{(\w+)\}/);
    compiled.set(template, parts);
  }
  let text = parts[0];
  for (let i = 1; i < parts.length; i += 2) {
    text += (values[parts[i]] ?? `{${parts[i]}}`) + parts[i + 1];
  }
  return text;
}

/** `circuit breaker "name"`, or `circuit breaker` for one without a name. */
const breakerNamed = (name) => (name ? `circuit breaker ${JSON.stringify(name)}` : "circuit breaker");

/** Base of tripgate's errors: each has a stable `code`. */
export class TripgateError extends Error {
  constructor(message, code, name = "TripgateError") {
    super(message);
    // Set explicitly: minifiers rename classes.
    this.name = name;
    this.code = code;
  }
}

/** The breaker rejected the call; it was not made. Its `cause` is the failure that opened the breaker, where there was one. */
export class CircuitOpenError extends TripgateError {
  constructor(state, retryAfter, breakerName, cause) {
    const template = retryAfter !== null ? MESSAGE_CIRCUIT_OPEN : REJECTION_MESSAGES[state];
    super(message(template, { breaker: breakerNamed(breakerName), state, retry_after: `${retryAfter?.toFixed(1)} ms` }), "circuit_open", "CircuitOpenError");
    /** The state that rejected the call. */
    this.state = state;
    /** Milliseconds until a trial call will be admitted, or null. */
    this.retryAfter = retryAfter;
    /** The breaker's name, if it has one. */
    this.breakerName = breakerName;
    if (cause !== undefined) {
      // As `new Error(message, { cause })` would set it (not enumerable),
      // without building an options bag for every rejection.
      Object.defineProperty(this, "cause", { value: cause, writable: true, configurable: true });
    }
  }
}

/** The call ran longer than `callTimeout`; its signal was aborted. */
export class CallTimeoutError extends TripgateError {
  constructor(timeout, breakerName) {
    super(message(MESSAGE_CALL_TIMEOUT, { breaker: breakerNamed(breakerName), timeout: `${timeout} ms` }), "call_timeout", "CallTimeoutError");
    this.timeout = timeout;
    this.breakerName = breakerName;
  }
}

/** `CircuitBreaker.restore` was given a snapshot it cannot restore. */
export class InvalidSnapshotError extends TripgateError {
  constructor(message, field) {
    super(message, "invalid_snapshot", "InvalidSnapshotError");
    this.field = field;
  }
}

/** Error of an operation on a breaker after dispose(). */
export function disposedError() {
  return new TripgateError(MESSAGE_DISPOSED, "disposed");
}

/**
 * Runs `f`, a call into the module that allocates. The module traps when
 * its memory (at most 4 GiB) is exhausted; that becomes a RangeError, and
 * the module stays usable for the breakers it holds. Count windows take
 * their memory when made (a window too large for what is left is the
 * core's range error of failureRate.windowCalls), so what allocates later
 * is small: stats, snapshots, and a breaker's first transitions and trials.
 */
export function outOfMemoryAsRangeError(f) {
  try {
    return f();
  } catch (error) {
    if (error instanceof WebAssembly.RuntimeError) {
      throw new RangeError("out of WebAssembly memory: dispose() breakers that are no longer used", { cause: error });
    }
    throw error;
  }
}
