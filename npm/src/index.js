// The public API of the `tripgate` npm package, on top of the WebAssembly
// machine (bindings-wasm/). This layer converts names, times and errors,
// makes the calls and fires events; every state decision is the machine's.

import { CircuitOpenError, CallTimeoutError, InvalidSnapshotError, TripgateError, disposedError, outOfMemoryAsRangeError } from "./errors.js";
import { callOptionsProblem, checkedHint, checkedReading, defaultClock, isAbortError, randomSeed } from "./inputs.js";
import { camel, machineOptions, optionError } from "./options.js";
import { CallContext, Permit } from "./permit.js";
import {
  CAUSE_CHANGES,
  EVENTS as EVENT_NAMES,
  OPTION_GROUPS,
  OPTION_NAMES as OPTION_SLOTS,
  REASON_NAMES,
  STATE_NAMES,
  STATS_FIELDS as STATS_FIELD_NAMES,
} from "./generated.js";
import { snapshotObject, snapshotRecord } from "./snapshot.js";
import { answer, createMachine, freeMachine, lastProblem, memoryBytes, wasm, windowLimits } from "./wasm.js";

export { CallTimeoutError, CircuitOpenError, InvalidSnapshotError, Permit, TripgateError };
export { CircuitBreakerGroup } from "./group.js";

/** Bytes of WebAssembly memory in use by every breaker together (a diagnostic for leak checks). */
export function wasmMemoryBytes() {
  return memoryBytes();
}

// The most buckets and outcomes a snapshot's window can hold.
const WINDOW_LIMITS = windowLimits();
// Options cross as numbers, each in the slot of its name's index.
const SLOTS = OPTION_SLOTS;
const SEED_SLOT = SLOTS.indexOf("seed");

/** The state names, in the order the machine indexes them. */
export const STATES = Object.freeze(STATE_NAMES);
/** The transition reasons. */
export const REASONS = Object.freeze(REASON_NAMES);
/** Every option a configuration error can name. */
export const OPTION_NAMES = Object.freeze(OPTION_SLOTS.map(camel));

// The figures of the module's stats(), in order; NaN stands for null.
const STATS_FIELDS = STATS_FIELD_NAMES.map(camel);
/** The events `on()` accepts. */
export const EVENTS = Object.freeze(EVENT_NAMES.map(camel));

// Report flags from the wasm machine.
const STALE = 1;
const SLOW = 2;
const TRANSITIONED = 4;
const NEEDS_CLOCK = 8;
const QUIET_SUCCESS = 16;
// In stateFlags() only: the machine is idle (a group may evict it).
const IDLE = 32;
// In a rejection's code: the machine gave a retryAfter.
const RETRY_AFTER = 8;
// The longest delay setTimeout keeps (2^31 - 1 ms, about 24.8 days); a longer one fires at once.
const MAX_TIMER_DELAY = 2 ** 31 - 1;

// How #caught names what threw, where it is not a listener.
const SOURCES = { clock: "the clock", isFailure: "isFailure", isResultFailure: "isResultFailure", retryAfterHint: "retryAfterHint" };

let restoring = null;

/**
 * A circuit breaker. Options (all optional; times in milliseconds):
 * failureTolerance, failureRate { threshold, minimumCalls, windowCalls | windowDuration },
 * slowCallDuration, resetTimeout, backoff { multiplier, maxResetTimeout, jitter },
 * halfOpenMaxCalls, successThreshold, trialTimeout, maxRetryAfter, callTimeout,
 * isFailure(error), isResultFailure(value), retryAfterHint(errorOrResult),
 * fallback(error), clock(), name, seed.
 */
export class CircuitBreaker {
  // The fields the hot path reads come first.
  /** The machine in the wasm module's memory: the pointer its functions take (0 once disposed). */
  #at = 0;
  /** Whether the machine needs the current time for its next acquire (kept from its own answers). */
  #timed = true;
  #disposed = false;
  /**
   * Whether a call needs nothing but a permit and its outcome: no
   * callTimeout, no fallback, not disposed, and no success or failure
   * listener (which would need the call's duration).
   */
  #plain = true;
  #callTimeout;
  /**
   * Quiet successes held back and delivered with the next input, in order:
   * one crossing into wasm per call instead of two. No input comes between
   * them and their delivery, so no decision can tell the difference.
   */
  #held = 0;
  #heldGeneration = 0;
  /** Whether a success now changes nothing but counters (the machine's answer, kept likewise). */
  #quiet = false;
  /** The generation whose plain calls #onPlainValue and #onPlainError settle. */
  #plainGeneration = -1;
  #onPlainValue;
  #onPlainError;
  #listeners = new Map();
  #isFailure;
  #isResultFailure;
  #retryAfterHint;
  #fallback;
  /** The error of the failure that opened the breaker, kept until it closes (a CircuitOpenError's cause). */
  #cause;
  /** The error of the failure being reported, while its transitions are drained. */
  #pendingCause;
  #clock;
  #name;
  /** Events waiting to be delivered, flat (event, payload, ...): every listener sees them in the order they happened, even when one of them causes more. */
  #queue = [];
  #emitting = false;

  constructor(options = {}) {
    const given = options ?? {};
    const { values, mask: givenMask, given: numbers, callTimeout } = machineOptions(given, SLOTS);
    let mask = givenMask;
    if ((mask & (1 << SEED_SLOT)) === 0) {
      // Unseeded breakers must not jitter alike across processes.
      values[SEED_SLOT] = randomSeed();
      mask |= 1 << SEED_SLOT;
    }
    const clock = given.clock ?? defaultClock;
    const snapshot = restoring ?? undefined;
    const now = checkedReading(clock());
    this.#at = outOfMemoryAsRangeError(() => createMachine(this, values, mask, snapshot, now));
    if (this.#at === 0) {
      const [kind, name, text] = lastProblem();
      throw kind === "snapshot" ? new InvalidSnapshotError(`invalid snapshot: ${name} ${text}`, name) : optionError(name, text, numbers, OPTION_SLOTS);
    }
    this.#clock = clock;
    this.#isFailure = given.isFailure;
    this.#isResultFailure = given.isResultFailure;
    this.#retryAfterHint = given.retryAfterHint ?? undefined;
    this.#fallback = given.fallback ?? undefined;
    this.#callTimeout = callTimeout;
    this.#name = given.name;
    this.#keepFlags(wasm.stateFlags(this.#at));
    this.#refreshPlain();
  }

  /**
   * A breaker in the state `snapshot` describes, with `options`.
   * @throws {InvalidSnapshotError}
   */
  static restore(snapshot, options = {}) {
    if (snapshot === null || typeof snapshot !== "object") {
      throw new TypeError(`snapshot must be an object, got ${String(snapshot)}`);
    }
    restoring = snapshotRecord(snapshot, STATES, WINDOW_LIMITS);
    try {
      return new CircuitBreaker(options);
    } finally {
      restoring = null;
    }
  }

  /** The breaker's name, if it has one. */
  get name() {
    return this.#name;
  }

  /**
   * The effective options, defaults filled in (times in milliseconds; `seed`
   * is the one in use, given or drawn), as a frozen object: options are
   * fixed at construction.
   */
  get options() {
    const values = answer(wasm.options(this.#machine()));
    const options = {};
    SLOTS.forEach((slot, i) => {
      const [group, member] = slot.split(".");
      if (member === undefined) {
        options[camel(slot)] ??= Number.isNaN(values[i]) ? null : values[i];
      } else if (!Number.isNaN(values[i])) {
        options[camel(group)] ??= {};
        options[camel(group)][camel(member)] = values[i];
      }
    });
    for (const { name } of OPTION_GROUPS) {
      Object.freeze(options[camel(name)]);
    }
    Object.assign(options, {
      callTimeout: this.#callTimeout ?? null,
      isFailure: this.#isFailure ?? null,
      isResultFailure: this.#isResultFailure ?? null,
      retryAfterHint: this.#retryAfterHint ?? null,
      fallback: this.#fallback ?? null,
      clock: this.#clock,
      name: this.#name ?? null,
    });
    return Object.freeze(options);
  }

  #machine() {
    if (this.#disposed) {
      throw disposedError();
    }
    this.#deliverHeld();
    return this.#at;
  }

  /** The clock's reading, checked; a failing clock throws. */
  #now() {
    return checkedReading(this.#clock());
  }

  /** The clock's reading, or NaN after handing a failing clock's error to the error listeners. */
  #readingOrNaN() {
    try {
      return this.#now();
    } catch (error) {
      this.#caught("clock", error);
      return NaN;
    }
  }

  #deliverHeld() {
    if (this.#held !== 0) {
      wasm.deliverSuccesses(this.#at, this.#held, this.#heldGeneration);
      this.#held = 0;
    }
  }

  #refreshPlain() {
    const listeners = this.#listeners;
    this.#plain = !this.#disposed && this.#callTimeout === undefined && this.#fallback === undefined && !listeners.has("success") && !listeners.has("failure");
  }

  /** Keeps what the machine said about its next inputs. */
  #keepFlags(flags) {
    this.#timed = (flags & NEEDS_CLOCK) !== 0;
    this.#quiet = (flags & QUIET_SUCCESS) !== 0;
  }

  /** Refreshes the machine's flags and emits any pending state changes: one crossing when there are none. */
  #drain() {
    const at = this.#at;
    const flags = wasm.stateFlags(at);
    this.#keepFlags(flags);
    if (flags & TRANSITIONED) {
      // Every transition is taken before any listener runs: a listener may
      // call the breaker, or dispose() it.
      const transitions = [];
      for (let t = answer(wasm.pollTransition(at)); t.length !== 0; t = answer(wasm.pollTransition(at))) {
        transitions.push(t);
      }
      for (const t of transitions) {
        // The failure that opened the breaker is the cause of its rejections until it closes.
        const change = CAUSE_CHANGES[t[1]];
        if (change !== "keep") {
          this.#cause = change === "take" ? this.#pendingCause : undefined;
        }
        this.#emit("stateChange", { from: STATES[t[0]], to: STATES[t[1]], reason: REASONS[t[2]], at: t[3], generation: t[4] });
      }
    }
  }

  /**
   * Delivers `event` to its listeners. An event emitted while another is
   * being delivered (a listener called the breaker) waits its turn, so every
   * listener sees every event in the order they happened.
   */
  #emit(event, payload) {
    if (!this.#listeners.has(event)) {
      return;
    }
    const queue = this.#queue;
    queue.push(event, payload);
    if (this.#emitting) {
      return;
    }
    this.#emitting = true;
    try {
      for (let i = 0; i < queue.length; i += 2) {
        const listeners = this.#listeners.get(queue[i]);
        for (const listener of listeners === undefined ? [] : [...listeners]) {
          try {
            listener(queue[i + 1]);
          } catch (error) {
            this.#caught(queue[i], error);
          }
        }
      }
    } finally {
      queue.length = 0;
      this.#emitting = false;
    }
  }

  /**
   * An error the breaker caught rather than hand to a caller (a listener's,
   * a predicate's, a clock's while an outcome was reported): it goes to the
   * "error" listeners, or to the console when there are none (or when an
   * "error" listener itself threw).
   */
  #caught(source, error) {
    const handlers = this.#listeners.get("error");
    if (source !== "error" && handlers !== undefined && handlers.size > 0) {
      this.#emit("error", error);
    } else {
      console.error(`tripgate: ${SOURCES[source] ?? `a "${source}" listener`} threw`, error);
    }
  }

  /**
   * Calls `listener` on every `event`; returns a function that unsubscribes it.
   * Events: stateChange, success, failure, rejected, timeout, fallback, error.
   */
  on(event, listener) {
    if (this.#disposed) {
      throw disposedError();
    }
    if (!EVENTS.includes(event)) {
      throw new RangeError(`event must be one of ${EVENTS.join(", ")}, got ${String(event)}`);
    }
    if (typeof listener !== "function") {
      throw new TypeError(`listener must be a function, got ${String(listener)}`);
    }
    let listeners = this.#listeners.get(event);
    if (listeners === undefined) {
      listeners = new Set();
      this.#listeners.set(event, listeners);
    }
    const entry = (payload) => listener(payload);
    listeners.add(entry);
    this.#refreshPlain();
    return () => {
      listeners.delete(entry);
      if (listeners.size === 0 && this.#listeners.get(event) === listeners) {
        this.#listeners.delete(event);
        this.#refreshPlain();
      }
    };
  }

  /** The current state: "closed", "open", "half_open", "forced_open" or "forced_closed". */
  get state() {
    const state = STATES[wasm.state(this.#machine(), this.#now())];
    this.#drain();
    return state;
  }

  /**
   * Whether the machine says nothing but counters would be lost if the
   * breaker were forgotten now (closed, not forced, nothing in flight):
   * what a CircuitBreakerGroup may evict. Internal, not in the typings.
   */
  _idle() {
    return (wasm.stateFlags(this.#machine()) & IDLE) !== 0;
  }

  /** Milliseconds until a trial call will be admitted, or null unless open. */
  get retryAfter() {
    const after = wasm.retryAfter(this.#machine(), this.#now());
    this.#drain();
    return Number.isNaN(after) ? null : after;
  }

  /** Cumulative counters and the current view (times in milliseconds). */
  stats() {
    const at = this.#machine();
    const now = this.#now();
    const figures = outOfMemoryAsRangeError(() => answer(wasm.stats(at, now)));
    this.#drain();
    const stats = {};
    STATS_FIELDS.forEach((field, i) => {
      stats[field] = Number.isNaN(figures[i]) ? null : figures[i];
    });
    stats.state = STATES[stats.state];
    return stats;
  }

  /** Rejects every call until reset() or forceClosed(). */
  forceOpen() {
    wasm.forceOpen(this.#machine(), this.#now());
    this.#drain();
  }

  /** Admits every call and never trips until reset() or forceOpen(). */
  forceClosed() {
    wasm.forceClosed(this.#machine(), this.#now());
    this.#drain();
  }

  /** Back to closed, failure counts cleared. */
  reset() {
    wasm.reset(this.#machine(), this.#now());
    this.#drain();
  }

  /** The breaker's state as a JSON-serializable object (the snapshot format shared by every language). */
  snapshot() {
    const at = this.#machine();
    const now = this.#now();
    return snapshotObject(
      outOfMemoryAsRangeError(() => answer(wasm.snapshot(at, now))),
      STATES,
    );
  }

  /**
   * Asks for a permit: its raw parts, or a rejection (emitted). Where the
   * machine does not depend on time (closed, no time-based option) no clock
   * is read and the permit is a plain generation: such a permit is never a
   * trial and its issue time is never used.
   */
  #acquire() {
    const at = this.#machine();
    let generation;
    if (!this.#timed) {
      generation = wasm.acquire(at, 0);
      if (generation >= 0) {
        return { generation, acquiredAt: 0, trial: 0 };
      }
    } else {
      generation = wasm.acquire(at, this.#now());
      // Read before any listener runs (one may dispose the breaker).
      const permit = generation >= 0 ? { generation, acquiredAt: wasm.lastAcquiredAt(at), trial: wasm.lastTrial(at) } : undefined;
      this.#drain();
      if (permit !== undefined) {
        return permit;
      }
    }
    return this.#rejection(generation);
  }

  /**
   * Reports a permit (its raw parts): "success", "failure" or "release";
   * `hint` is a failure's Retry-After in milliseconds (NaN for none),
   * `started` the clock's reading when the call began (NaN where no
   * listener needs its duration).
   */
  #report(generation, acquiredAt, trial, outcome, error, hint, started) {
    if (this.#disposed) {
      return;
    }
    if (outcome === "success" && this.#quiet && trial === 0 && !this.#listeners.has("success")) {
      this.#hold(generation);
      return;
    }
    this.#deliverHeld();
    const at = this.#at;
    const heard = this.#listeners.size !== 0 && outcome !== "release" && this.#listeners.has(outcome);
    const reading = outcome === "failure" || this.#timed || heard ? this.#readingOrNaN() : 0;
    // A failed clock reports at 0, which the machine takes as the latest time it has seen.
    const now = Number.isNaN(reading) ? 0 : reading;
    const flags =
      outcome === "success"
        ? wasm.success(at, generation, acquiredAt, trial, now)
        : outcome === "failure"
          ? wasm.failure(at, generation, acquiredAt, trial, now, hint)
          : wasm.release(at, generation, acquiredAt, trial, now);
    this.#keepFlags(flags);
    if (flags & TRANSITIONED) {
      this.#pendingCause = outcome === "failure" ? error : undefined;
      this.#drain();
      this.#pendingCause = undefined;
    }
    if (heard && !this.#disposed) {
      const duration = reading - started;
      this.#emit(outcome, { error, stale: (flags & STALE) !== 0, slow: (flags & SLOW) !== 0, duration: duration >= 0 ? duration : null });
    }
  }

  /** Holds back a quiet success of a non-trial permit of `generation`, delivered with the next input. */
  #hold(generation) {
    if (this.#held !== 0 && this.#heldGeneration !== generation) {
      this.#deliverHeld();
    }
    this.#held += 1;
    this.#heldGeneration = generation;
  }

  /** The Retry-After hint `retryAfterHint` finds in a failed call's error or result: milliseconds, or NaN. */
  #hintOf(subject) {
    const extract = this.#retryAfterHint;
    if (extract === undefined) {
      return NaN;
    }
    try {
      const hint = extract(subject);
      return hint === undefined || hint === null ? NaN : checkedHint("retryAfterHint", hint, "return");
    } catch (error) {
      this.#caught("retryAfterHint", error);
      return NaN;
    }
  }

  /** Reports a call that ended with `error`, classified. */
  #reportError(generation, acquiredAt, trial, error, started) {
    const outcome = this.#classifyError(error);
    this.#report(generation, acquiredAt, trial, outcome, error, outcome === "failure" ? this.#hintOf(error) : NaN, started);
  }

  /** Reports a call that returned `value`, classified. */
  #reportValue(generation, acquiredAt, trial, value, started) {
    if (this.#isResultFailure === undefined) {
      this.#report(generation, acquiredAt, trial, "success", undefined, NaN, started);
      return;
    }
    const outcome = this.#classifyResult(value);
    this.#report(generation, acquiredAt, trial, outcome, undefined, outcome === "failure" ? this.#hintOf(value) : NaN, started);
  }

  /** The fallback's answer to `error` (the `fallback` event first). */
  #fallBack(fallback, error) {
    if (this.#listeners.has("fallback")) {
      this.#emit("fallback", { error });
    }
    return fallback(error);
  }

  /** A promise of the fallback's answer to `error`, or of `error` itself without a fallback. */
  #failed(error, fallback) {
    return fallback === undefined ? Promise.reject(error) : new Promise((resolve) => resolve(this.#fallBack(fallback, error)));
  }

  /**
   * The rejection `acquire` answered with `code` (-1 - (state index, with
   * bit 8 set when the machine gave a retryAfter)), emitted.
   */
  #rejection(code) {
    const answer = -code - 1;
    const state = STATES[answer & 7];
    const retryAfter = answer & RETRY_AFTER ? wasm.rejectedRetryAfter(this.#at) : null;
    const rejection = { state, retryAfter };
    if (this.#listeners.size !== 0) {
      this.#emit("rejected", rejection);
    }
    return rejection;
  }

  /**
   * The two-step API: a Permit to report with success(), failure() or
   * release(), or null when the call must not be made.
   */
  tryAcquire() {
    const permit = this.#acquire();
    if (!("generation" in permit)) {
      return null;
    }
    const started = this.#plain ? NaN : this.#readingOrNaN();
    return new Permit(permit, (p, outcome, hint) => this.#report(p.generation, p.acquiredAt, p.trial, outcome, undefined, hint, started));
  }

  /** The error a rejected call gets: its cause is the failure that opened the breaker, if any. */
  #openError(rejection) {
    return new CircuitOpenError(rejection.state, rejection.retryAfter, this.#name, this.#cause);
  }

  #classifyError(error) {
    if (this.#isFailure === undefined) {
      return "failure";
    }
    try {
      return this.#isFailure(error) ? "failure" : "release";
    } catch (predicateError) {
      this.#caught("isFailure", predicateError);
      return "failure";
    }
  }

  #classifyResult(value) {
    if (this.#isResultFailure === undefined) {
      return "success";
    }
    try {
      return this.#isResultFailure(value) ? "failure" : "success";
    } catch (predicateError) {
      this.#caught("isResultFailure", predicateError);
      return "failure";
    }
  }

  /**
   * Calls `fn({ signal })` if the breaker admits it and resolves to its
   * result; otherwise rejects with CircuitOpenError without calling it.
   * With callTimeout, the signal is aborted and the promise rejects with
   * CallTimeoutError when the call runs too long. A call aborted through
   * `options.signal` is released, not counted. With a fallback (the
   * breaker's, or `options.fallback`, which replaces it), a call that would
   * end in any of those errors, except the caller's abort, resolves to
   * `fallback(error)` instead.
   */
  execute(fn, options) {
    if (typeof fn !== "function") {
      return Promise.reject(new TypeError(`execute needs a function, got ${String(fn)}`));
    }
    if (this.#plain && !this.#timed && options === undefined) {
      // The hot path: closed, nothing time-based, no timer, no caller signal.
      let generation;
      if (this.#held === 0) {
        generation = wasm.acquire(this.#at, 0);
      } else {
        generation = wasm.acquireAfterSuccesses(this.#at, this.#held, this.#heldGeneration, 0);
        this.#held = 0;
      }
      if (generation >= 0) {
        return this.#runPlain(fn, generation);
      }
      const rejection = this.#rejection(generation);
      return Promise.reject(new CircuitOpenError(rejection.state, rejection.retryAfter, this.#name, this.#cause));
    }
    return this.#executeSlowly(fn, options);
  }

  /** execute() off the hot path (kept apart so that the hot path stays small enough to inline). */
  #executeSlowly(fn, options) {
    // Arguments are checked before a permit is taken: a permit must never
    // be held by a call that cannot be made.
    if (options !== undefined) {
      const problem = callOptionsProblem(options);
      if (problem !== undefined) {
        return Promise.reject(problem);
      }
    }
    let permit;
    try {
      permit = this.#acquire();
    } catch (error) {
      return Promise.reject(error);
    }
    const fallback = options?.fallback ?? this.#fallback;
    if (!("generation" in permit)) {
      return this.#failed(this.#openError(permit), fallback);
    }
    const callerSignal = options?.signal;
    const timeout = this.#callTimeout;
    const started = this.#plain && timeout === undefined ? NaN : this.#readingOrNaN();
    if (timeout === undefined && callerSignal === undefined) {
      return this.#run(fn, permit.generation, permit.acquiredAt, permit.trial, started, fallback);
    }
    return this.#executeGuarded(fn, permit, timeout, callerSignal, started, fallback);
  }

  /** #run for a plain call (no fallback, nothing timed, not a trial): fewer arguments on the hot path. */
  #runPlain(fn, generation) {
    if (generation !== this.#plainGeneration) {
      this.#makePlainHandlers(generation);
    }
    let result;
    try {
      result = fn(new CallContext());
    } catch (error) {
      this.#reportError(generation, 0, 0, error, NaN);
      return Promise.reject(error);
    }
    return Promise.resolve(result).then(this.#onPlainValue, this.#onPlainError);
  }

  /**
   * The handlers of plain calls' outcomes in `generation`, made once per
   * generation rather than once per call (they hold nothing else).
   */
  #makePlainHandlers(generation) {
    this.#plainGeneration = generation;
    this.#onPlainValue = (value) => {
      // Still plain (no listener wants the success) and quiet: held back
      // without the general report's checks.
      if (this.#plain && this.#quiet && this.#isResultFailure === undefined) {
        this.#hold(generation);
      } else {
        this.#reportValue(generation, 0, 0, value, NaN);
      }
      return value;
    };
    this.#onPlainError = (error) => {
      this.#reportError(generation, 0, 0, error, NaN);
      throw error;
    };
  }

  /** The fast path: no timer, and an AbortController only if fn reads `signal`. */
  async #run(fn, generation, acquiredAt, trial, started, fallback) {
    let value;
    try {
      value = await fn(new CallContext());
    } catch (error) {
      this.#reportError(generation, acquiredAt, trial, error, started);
      if (fallback === undefined) {
        throw error;
      }
      return this.#fallBack(fallback, error);
    }
    this.#reportValue(generation, acquiredAt, trial, value, started);
    return value;
  }

  #executeGuarded(fn, permit, timeout, callerSignal, started, fallback) {
    const controller = new AbortController();
    const { generation, acquiredAt, trial } = permit;
    return new Promise((resolve, reject) => {
      let settled = false;
      let timer;
      // Ends the call once: `report` reports its permit, `settle` settles the promise.
      const finish = (report, settle) => {
        if (settled) {
          return;
        }
        settled = true;
        clearTimeout(timer);
        callerSignal?.removeEventListener("abort", onCallerAbort);
        report();
        settle();
      };
      const release = () => this.#report(generation, acquiredAt, trial, "release", undefined, NaN, NaN);
      const fail = (error) => () => {
        if (fallback === undefined) {
          reject(error);
          return;
        }
        try {
          resolve(this.#fallBack(fallback, error));
        } catch (fallbackError) {
          reject(fallbackError);
        }
      };
      // The caller's abort ends the call at once, whether or not fn heeds
      // its signal: the permit is released and fn's late outcome ignored.
      const onCallerAbort = () => {
        controller.abort(callerSignal.reason);
        finish(release, () => reject(callerSignal.reason));
      };
      if (callerSignal !== undefined) {
        if (callerSignal.aborted) {
          finish(release, () => reject(callerSignal.reason));
          return;
        }
        callerSignal.addEventListener("abort", onCallerAbort, { once: true });
      }
      if (timeout !== undefined) {
        // Not unref'd: a timeout the caller asked for is pending work, and
        // must fire even when nothing else keeps the event loop alive.
        // Timers fire at once past MAX_TIMER_DELAY: a longer timeout waits in steps.
        const wait = (left, then) => {
          timer = setTimeout(left > MAX_TIMER_DELAY ? () => wait(left - MAX_TIMER_DELAY, then) : then, Math.min(left, MAX_TIMER_DELAY));
        };
        wait(timeout, () => {
          const error = new CallTimeoutError(timeout, this.#name);
          if (this.#listeners.has("timeout")) {
            const duration = this.#readingOrNaN() - started;
            // null where the clock failed at either end.
            this.#emit("timeout", { duration: duration >= 0 ? duration : null, error });
          }
          controller.abort(error);
          finish(() => this.#report(generation, acquiredAt, trial, "failure", error, this.#hintOf(error), started), fail(error));
        });
      }
      const onError = (error) => {
        if (callerSignal?.aborted && (isAbortError(error) || error === callerSignal.reason)) {
          finish(release, () => reject(error));
        } else {
          finish(() => this.#reportError(generation, acquiredAt, trial, error, started), fail(error));
        }
      };
      let result;
      try {
        result = fn({ signal: controller.signal });
      } catch (error) {
        onError(error);
        return;
      }
      Promise.resolve(result).then(
        (value) =>
          finish(
            () => this.#reportValue(generation, acquiredAt, trial, value, started),
            () => resolve(value),
          ),
        onError,
      );
    });
  }

  /** A function with `fn`'s parameters that runs it through execute(). */
  wrap(fn) {
    if (typeof fn !== "function") {
      throw new TypeError(`wrap needs a function, got ${String(fn)}`);
    }
    return (...args) => this.execute(() => fn(...args));
  }

  /** Frees the breaker's WebAssembly memory now; the breaker cannot be used afterwards. */
  dispose() {
    if (!this.#disposed) {
      this.#disposed = true;
      this.#plain = false;
      freeMachine(this, this.#at);
      this.#at = 0;
    }
  }

  [Symbol.dispose]() {
    this.dispose();
  }
}

if (Symbol.dispose === undefined) {
  // Node 18/20 lack Symbol.dispose; `using` is unavailable there anyway.
  delete CircuitBreaker.prototype[Symbol.dispose];
}
