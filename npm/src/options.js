// The JS side of option checking: types and shape (numbers, functions,
// nested objects, unknown and missing keys; the groups' shapes are the kit's
// OPTION_GROUPS). Every number is then judged by the core through the wasm
// module (the kit's OptionSlots), so ranges, whole numbers and how options
// constrain each other match every language.

import { OPTION_GROUPS, REQUIREMENTS } from "./generated.js";
import { wasm } from "./wasm.js";

/** `failure_rate.window_calls` → `failureRate.windowCalls`. */
export function camel(option) {
  return option.replace(/_(\w)/g, (_, letter) => letter.toUpperCase());
}

/** How a value reads in an error message: strings quoted, numbers as String(n). */
export function show(value) {
  if (typeof value === "number" || typeof value === "boolean") {
    return String(value);
  }
  if (typeof value === "function") {
    return "a function";
  }
  try {
    return JSON.stringify(value) ?? typeof value;
  } catch {
    return typeof value;
  }
}

function typeError(option, expected, value) {
  return new TypeError(`${camel(option)} must be ${expected}, got ${show(value)}`);
}

const present = (value) => value !== undefined && value !== null;

/** The options the JS binding acts on itself, beside the machine's. */
const BINDING_OPTIONS = ["call_timeout", "is_failure", "is_result_failure", "retry_after_hint", "fallback", "clock", "name"];

/**
 * Edit distance between two names (insertions, deletions, substitutions).
 * The same rule as the core's `config::closest_name`, pinned for both by
 * tests/conformance/option_suggestions.json.
 */
function editDistance(a, b) {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

/** The valid name closest to `name`, at most 2 edits away (the first of equals), or undefined. */
export function closestName(name, candidates) {
  let best;
  let bestDistance = 3;
  for (const candidate of candidates) {
    const distance = editDistance(name, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** A TypeError for an option name CircuitBreaker does not have, suggesting the closest one. */
function unknownOption(name, candidates) {
  const closest = closestName(name, candidates);
  const hint = closest === undefined ? `; the options are ${candidates.join(", ")}` : `; did you mean ${closest}?`;
  return new TypeError(`${name} is not an option of CircuitBreaker${hint}`);
}

/** Throws for a key of `object` that is not one of `names`; `prefix` spells nested ones ("failureRate."). */
function refuseUnknown(object, names, prefix) {
  for (const key of Object.keys(object)) {
    if (!names.includes(key)) {
      throw unknownOption(
        prefix + key,
        names.map((name) => prefix + name),
      );
    }
  }
}

/**
 * Checks `options` (a CircuitBreaker's) and lays out its numbers for the
 * wasm module: `values[i]` holds the option `slots[i]` (the core's option
 * names; a group's own slot stays empty) when bit i of `mask` is set. `given` maps each option's canonical name to the value as the
 * caller wrote it, for error messages. Throws TypeError for a wrong type or
 * shape; values out of range are the core's to report.
 */
export function machineOptions(options, slots) {
  if (typeof options !== "object") {
    throw new TypeError(`options must be an object, got ${show(options)}`);
  }
  const values = new Float64Array(slots.length);
  const given = new Map();
  let mask = 0;
  const put = (option, value) => {
    if (typeof value !== "number") {
      throw typeError(option, "a number", value);
    }
    const slot = slots.indexOf(option);
    values[slot] = value;
    mask |= 1 << slot;
    given.set(option, value);
  };
  const groups = OPTION_GROUPS.map(({ name }) => name);
  const topLevel = [...slots.filter((slot) => !slot.includes(".")), ...BINDING_OPTIONS].map(camel);
  refuseUnknown(options, topLevel, "");
  for (const slot of slots) {
    if (!slot.includes(".") && !groups.includes(slot) && present(options[camel(slot)])) {
      put(slot, options[camel(slot)]);
    }
  }
  for (const { name: group, required, exactlyOneOf } of OPTION_GROUPS) {
    const object = options[camel(group)];
    if (!present(object)) {
      continue;
    }
    if (typeof object !== "object" || Array.isArray(object)) {
      throw typeError(group, "an object", object);
    }
    const members = slots.filter((slot) => slot.startsWith(`${group}.`));
    const keys = members.map((slot) => camel(slot.slice(group.length + 1)));
    refuseUnknown(object, keys, `${camel(group)}.`);
    for (const key of required) {
      if (!present(object[camel(key)])) {
        throw new TypeError(`${camel(group)} needs ${camel(key)}`);
      }
    }
    if (exactlyOneOf.length !== 0 && exactlyOneOf.filter((key) => present(object[camel(key)])).length !== 1) {
      throw typeError(group, `given exactly one of ${exactlyOneOf.map(camel).join(" and ")}`, object);
    }
    members.forEach((slot, i) => {
      if (present(object[keys[i]])) {
        put(slot, object[keys[i]]);
      }
    });
  }
  const callTimeout = options.callTimeout ?? undefined;
  if (callTimeout !== undefined) {
    if (typeof callTimeout !== "number") {
      throw typeError("call_timeout", "a number", callTimeout);
    }
    // Its value is the kit's to judge (binding::call_timeout), as Python's is.
    const problem = wasm.callTimeoutProblem(callTimeout);
    if (problem >= 0) {
      throw optionError("call_timeout", REQUIREMENTS[problem], new Map([["call_timeout", callTimeout]]), []);
    }
  }
  for (const option of ["is_failure", "is_result_failure", "retry_after_hint", "fallback", "clock"]) {
    const f = options[camel(option)];
    if (present(f) && typeof f !== "function") {
      throw typeError(option, "a function", f);
    }
  }
  if (present(options.name) && typeof options.name !== "string") {
    throw typeError("name", "a string", options.name);
  }
  return { values, mask, given, callTimeout };
}

/**
 * The core's verdict on an option (`option`, `requirement`) as a RangeError
 * in JS spelling, showing the caller's value. `optionNames` are the core's
 * names, which the requirement may mention ("must be at least reset_timeout").
 */
export function optionError(option, requirement, given, optionNames) {
  const spelled = requirement.replace(/[a-z]+(?:[._][a-z]+)+/g, (word) => (optionNames.includes(word) ? camel(word) : word));
  const got = given.has(option) ? `, got ${show(given.get(option))}` : "";
  return new RangeError(`${camel(option)} ${spelled}${got}`);
}
