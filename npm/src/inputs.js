// What callers hand in besides options, checked: clock readings, execute()'s
// options and signals; and the defaults used when they hand in nothing.

import { show } from "./options.js";

export const defaultClock = typeof performance !== "undefined" ? () => performance.now() : () => Date.now();

// 2^64 nanoseconds in milliseconds: the machine's time is a u64 of nanoseconds.
const CLOCK_LIMIT_MS = 2 ** 64 / 1e6;

/**
 * A clock reading, checked: a reading that is not a finite number of
 * milliseconds from 0 up to 2^64 ns is the clock's error (docs/semantics.md,
 * "What the bindings promise"), never the machine's time.
 */
export function checkedReading(reading) {
  if (typeof reading !== "number") {
    throw new TypeError(`clock must return a number of milliseconds, got ${show(reading)}`);
  }
  if (!(reading >= 0 && reading < CLOCK_LIMIT_MS)) {
    throw new RangeError(`clock must return a finite number of milliseconds from 0 to 2^64 ns, got ${show(reading)}`);
  }
  return reading;
}

/** A jitter seed for a breaker given none, so that processes do not jitter alike. */
export function randomSeed() {
  return Math.floor(Math.random() * 2 ** 32) * 2 ** 21 + Math.floor(Math.random() * 2 ** 21);
}

export function isAbortError(error) {
  return error !== null && typeof error === "object" && error.name === "AbortError";
}

/**
 * A Retry-After hint in milliseconds, checked: `what` names who gave it
 * (`retryAfter`, or `retryAfterHint` with `verb` "return"). Infinity is
 * allowed (the machine caps every hint at maxRetryAfter).
 */
export function checkedHint(what, hint, verb = "be") {
  if (typeof hint !== "number") {
    throw new TypeError(`${what} must ${verb} a number of milliseconds, got ${show(hint)}`);
  }
  if (!(hint >= 0)) {
    throw new RangeError(`${what} must ${verb} a number of milliseconds >= 0, got ${show(hint)}`);
  }
  return hint;
}

const CALL_OPTIONS = ["signal", "fallback"];

/** What is wrong with execute()'s options, as the error to reject with, or undefined. */
export function callOptionsProblem(options) {
  if (options === null || typeof options !== "object") {
    return new TypeError(`execute options must be an object, got ${show(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!CALL_OPTIONS.includes(key)) {
      return new TypeError(`execute has no option ${JSON.stringify(key)}; valid options: ${CALL_OPTIONS.join(", ")}`);
    }
  }
  const signal = options.signal;
  if (signal !== undefined && !isAbortSignal(signal)) {
    return new TypeError(`signal must be an AbortSignal, got ${show(signal)}`);
  }
  if (options.fallback !== undefined && typeof options.fallback !== "function") {
    return new TypeError(`fallback must be a function, got ${show(options.fallback)}`);
  }
  return undefined;
}

function isAbortSignal(value) {
  if (typeof AbortSignal === "function" && value instanceof AbortSignal) {
    return true;
  }
  // An AbortSignal from another realm or polyfill: what execute() uses of it.
  return (
    value !== null &&
    typeof value === "object" &&
    typeof value.aborted === "boolean" &&
    typeof value.addEventListener === "function" &&
    typeof value.removeEventListener === "function"
  );
}
