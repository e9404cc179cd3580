// The WebAssembly module (bindings-wasm/) and its one type, WasmBreaker: a
// machine in the module's memory. The module exports plain functions on
// numbers; this wraps them, copies arrays out of its memory and frees a
// machine on dispose() or once its breaker is collected. It names nothing
// but the problem of a failed create, from the kit's tables.

import { wasmBytes } from "../wasm/bytes.js";
import { OPTION_NAMES, REQUIREMENTS, SNAPSHOT_FIELDS, SNAPSHOT_PROBLEMS } from "./generated.js";

// Instantiated synchronously from embedded bytes, so no init step, no fetch
// and no top-level await: the same file works in Node (import and require),
// browsers and bundlers. The module imports nothing.
const x = new WebAssembly.Instance(new WebAssembly.Module(wasmBytes()), {}).exports;

/**
 * A view of `length` numbers at `at` in the module's memory (valid until the
 * memory grows). Pointers cross as signed 32-bit integers: above 2 GiB of
 * memory they arrive negative.
 */
const numbers = (at, length) => new Float64Array(x.memory.buffer, at >>> 0, length);

/** A copy of the `length` numbers the last array-valued export answered. */
const answer = (length) => numbers(x.output(), length).slice();

/** Frees the machines of breakers collected without dispose(). */
const finalizer = new FinalizationRegistry((at) => x.free(at));

/** Bytes of WebAssembly memory in use by every breaker together. */
export const memoryBytes = () => x.memory.buffer.byteLength;

/** The most buckets and outcomes a snapshot's window can hold. */
export const windowLimits = () => answer(x.limits());

/**
 * Why the last `WasmBreaker.create` gave no breaker, as `[kind, name,
 * requirement]` (kind "option" or "snapshot"; the module answers with
 * indexes into the kit's tables), once.
 */
export function lastProblem() {
  const length = x.problem();
  if (length === 0) {
    return undefined;
  }
  const [kind, name, text] = answer(length);
  return kind === 1 ? ["snapshot", SNAPSHOT_FIELDS[name], SNAPSHOT_PROBLEMS[text]] : ["option", OPTION_NAMES[name], REQUIREMENTS[text]];
}

/** A machine; the methods are the exports of bindings-wasm/src/lib.rs, which say what they answer. */
export class WasmBreaker {
  #at;

  constructor(at) {
    this.#at = at;
    finalizer.register(this, at, this);
  }

  /** A machine for the option slots (and snapshot record), or undefined (see lastProblem). */
  static create(values, mask, snapshot, now) {
    const length = values.length + (snapshot?.length ?? 0);
    const input = numbers(x.input(length), length);
    input.set(values);
    if (snapshot !== undefined) {
      input.set(snapshot, values.length);
    }
    const at = x.create(mask, values.length, snapshot?.length ?? -1, now);
    return at === 0 ? undefined : new WasmBreaker(at);
  }

  free() {
    const at = this.#at;
    this.#at = 0;
    finalizer.unregister(this);
    x.free(at);
  }

  acquire(now) {
    return x.acquire(this.#at, now);
  }

  acquireAfterSuccesses(count, generation, now) {
    return x.acquireAfterSuccesses(this.#at, count, generation, now);
  }

  deliverSuccesses(count, generation) {
    x.deliverSuccesses(this.#at, count, generation);
  }

  lastTrial() {
    return x.lastTrial(this.#at);
  }

  lastAcquiredAt() {
    return x.lastAcquiredAt(this.#at);
  }

  rejectedRetryAfter() {
    return x.rejectedRetryAfter(this.#at);
  }

  success(generation, acquiredAt, trial, now) {
    return x.success(this.#at, generation, acquiredAt, trial, now);
  }

  failure(generation, acquiredAt, trial, now, retryAfter) {
    return x.failure(this.#at, generation, acquiredAt, trial, now, retryAfter);
  }

  release(generation, acquiredAt, trial, now) {
    return x.release(this.#at, generation, acquiredAt, trial, now);
  }

  stateFlags() {
    return x.stateFlags(this.#at);
  }

  state(now) {
    return x.state(this.#at, now);
  }

  idle() {
    return x.idle(this.#at) === 1;
  }

  retryAfter(now) {
    return x.retryAfter(this.#at, now);
  }

  forceOpen(now) {
    x.forceOpen(this.#at, now);
  }

  forceClosed(now) {
    x.forceClosed(this.#at, now);
  }

  reset(now) {
    x.reset(this.#at, now);
  }

  options() {
    return answer(x.options(this.#at));
  }

  stats(now) {
    return answer(x.stats(this.#at, now));
  }

  pollTransition() {
    return answer(x.pollTransition(this.#at));
  }

  snapshot(now) {
    return answer(x.snapshot(this.#at, now));
  }
}
