// What a call holds: the Permit of the two-step API, and the context
// execute() hands to the call.

import { checkedHint } from "./inputs.js";
import { show } from "./options.js";

/** A permit from tryAcquire(): report it once. */
export class Permit {
  #raw;
  #report;
  #done = false;

  constructor(raw, report) {
    this.#raw = raw;
    this.#report = report;
  }

  /** Whether this is a half-open trial call. */
  get isTrial() {
    return this.#raw.trial !== 0;
  }

  #settle(outcome, hint = NaN) {
    if (this.#done) {
      throw new TypeError("this permit was already reported");
    }
    this.#done = true;
    this.#report(this.#raw, outcome, hint);
  }

  /** The call succeeded. */
  success() {
    this.#settle("success");
  }

  /**
   * The call failed. `retryAfter`: the server's Retry-After hint in
   * milliseconds, which opens the breaker at once (docs/semantics.md,
   * "Retry-After").
   */
  failure(options) {
    let hint = NaN;
    if (options !== undefined) {
      if (options === null || typeof options !== "object") {
        throw new TypeError(`failure options must be an object, got ${show(options)}`);
      }
      for (const key of Object.keys(options)) {
        if (key !== "retryAfter") {
          throw new TypeError(`failure has no option ${JSON.stringify(key)}; valid options: retryAfter`);
        }
      }
      if (options.retryAfter !== undefined && options.retryAfter !== null) {
        hint = checkedHint("retryAfter", options.retryAfter);
      }
    }
    this.#settle("failure", hint);
  }

  /** The call is not counted (cancelled, or an error that does not count). */
  release() {
    this.#settle("release");
  }
}

/** What `fn` receives from execute(): the signal is created only if read. */
export class CallContext {
  #controller;

  get signal() {
    this.#controller ??= new AbortController();
    return this.#controller.signal;
  }
}
