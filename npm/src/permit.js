// What a call holds: the Permit of the two-step API, and the context
// execute() hands to the call.

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

  #settle(outcome) {
    if (this.#done) {
      throw new TypeError("this permit was already reported");
    }
    this.#done = true;
    this.#report(this.#raw, outcome);
  }

  /** The call succeeded. */
  success() {
    this.#settle("success");
  }

  /** The call failed. */
  failure() {
    this.#settle("failure");
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
