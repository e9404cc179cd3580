// The WebAssembly module (bindings-wasm/): machines in its memory, reached
// through plain exported functions on numbers. This instantiates it, copies
// arrays out of its memory, makes machines and frees each on dispose() or
// once its breaker is collected. It names nothing but the problem of a
// failed create, from the kit's tables.

import { wasmBytes } from "../wasm/bytes.js";
import { OPTION_NAMES, REQUIREMENTS, SNAPSHOT_FIELDS, SNAPSHOT_PROBLEMS } from "./generated.js";

// Instantiated synchronously from embedded bytes, so no init step, no fetch
// and no top-level await: the same file works in Node (import and require),
// browsers and bundlers. The module imports nothing.
const x = new WebAssembly.Instance(new WebAssembly.Module(wasmBytes()), {}).exports;

/**
 * The module's functions on a machine, each taking the machine's pointer
 * first (bindings-wasm/src/lib.rs says what each takes and answers);
 * array-valued ones return a length for `answer`.
 */
export const wasm = x;

/**
 * A view of `length` numbers at `at` in the module's memory (valid until the
 * memory grows). Pointers cross as signed 32-bit integers: above 2 GiB of
 * memory they arrive negative.
 */
const numbers = (at, length) => new Float64Array(x.memory.buffer, at >>> 0, length);

/** A copy of the `length` numbers the last array-valued export answered (it returns the length). */
export const answer = (length) => numbers(x.output(), length).slice();

/** Frees the machines of breakers collected without dispose(). */
const finalizer = new FinalizationRegistry((at) => x.free(at));

/** Bytes of WebAssembly memory in use by every breaker together. */
export const memoryBytes = () => x.memory.buffer.byteLength;

/** The most buckets and outcomes a snapshot's window can hold. */
export const windowLimits = () => answer(x.limits());

/**
 * Why the last `createMachine` gave no machine, as `[kind, name,
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

/**
 * Makes a machine for the option slots (and snapshot record) and ties its
 * memory to `owner`, which frees it when collected: its pointer, or 0 if
 * the options or snapshot are invalid (see lastProblem).
 */
export function createMachine(owner, values, mask, snapshot, now) {
  const length = values.length + (snapshot?.length ?? 0);
  const input = numbers(x.input(length), length);
  input.set(values);
  if (snapshot !== undefined) {
    input.set(snapshot, values.length);
  }
  const at = x.create(mask, values.length, snapshot?.length ?? -1, now);
  if (at !== 0) {
    finalizer.register(owner, at, owner);
  }
  return at;
}

/** Frees the machine at `at` now (its owner then never frees it). */
export function freeMachine(owner, at) {
  finalizer.unregister(owner);
  x.free(at);
}
