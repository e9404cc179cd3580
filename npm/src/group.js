// CircuitBreakerGroup: one breaker per key (an origin, a host, an
// endpoint), created on first use with the group's options, at most
// `maxBreakers` of them, the least recently used idle one evicted first.
// Every decision about a call is still its breaker's; the group only finds
// the breaker and forwards its events.

import { TripgateError, message } from "./errors.js";
import { MESSAGE_GROUP_FULL } from "./generated.js";
import { CircuitBreaker, EVENTS } from "./index.js";
import { show } from "./options.js";

const DEFAULT_MAX_BREAKERS = 1000;

/** One breaker per key, created on first use; see the README. */
export class CircuitBreakerGroup {
  #options;
  #maxBreakers;
  /** key -> { breaker, detach: Map(event -> unsubscribe) }, least recently used first. */
  #entries = new Map();
  /** event -> Set of group listeners. */
  #listeners = new Map();
  #watchers = new Set();

  /** `options`: every CircuitBreaker option but `name` (each breaker is named by its key), and `maxBreakers` (default 1,000). */
  constructor(options = {}) {
    if (options === null || typeof options !== "object") {
      throw new TypeError(`options must be an object, got ${show(options)}`);
    }
    const { maxBreakers = DEFAULT_MAX_BREAKERS, ...breakerOptions } = options;
    if (typeof maxBreakers !== "number") {
      throw new TypeError(`maxBreakers must be a number, got ${show(maxBreakers)}`);
    }
    if (!(Number.isInteger(maxBreakers) && maxBreakers >= 1)) {
      throw new RangeError(`maxBreakers must be a whole number at least 1, got ${show(maxBreakers)}`);
    }
    if ("name" in breakerOptions) {
      throw new TypeError("name is not an option of CircuitBreakerGroup: each breaker is named by its key");
    }
    // Checked once here, so that a bad option fails the group, not its first call.
    new CircuitBreaker(breakerOptions).dispose();
    this.#options = breakerOptions;
    this.#maxBreakers = maxBreakers;
  }

  /** The most breakers the group holds. */
  get maxBreakers() {
    return this.#maxBreakers;
  }

  /**
   * The breaker of `key`, created on first use (named `key`). When the
   * group is full, the least recently used breaker that is closed with no
   * call in flight is evicted; if none is, a TripgateError with code
   * "group_full".
   */
  get(key) {
    if (typeof key !== "string") {
      throw new TypeError(`key must be a string, got ${show(key)}`);
    }
    const entries = this.#entries;
    const entry = entries.get(key);
    if (entry !== undefined) {
      // Most recently used last.
      entries.delete(key);
      entries.set(key, entry);
      return entry.breaker;
    }
    if (entries.size >= this.#maxBreakers) {
      this.#evictOne();
    }
    const breaker = new CircuitBreaker({ ...this.#options, name: key });
    const created = { breaker, detach: new Map() };
    entries.set(key, created);
    for (const event of this.#listeners.keys()) {
      this.#forward(key, created, event);
    }
    for (const watcher of this.#watchers) {
      watcher.added?.(key, breaker);
    }
    return breaker;
  }

  #evictOne() {
    for (const [key, { breaker }] of this.#entries) {
      if (breaker._idle()) {
        this.#remove(key);
        return;
      }
    }
    throw new TripgateError(message(MESSAGE_GROUP_FULL, { limit: this.#maxBreakers, limit_option: "maxBreakers" }), "group_full");
  }

  /** Runs `fn` through the breaker of `key` (see CircuitBreaker#execute). */
  execute(key, fn, options) {
    let breaker;
    try {
      breaker = this.get(key);
    } catch (error) {
      return Promise.reject(error);
    }
    return breaker.execute(fn, options);
  }

  /** The keys that have a breaker, least recently used first. */
  keys() {
    return [...this.#entries.keys()];
  }

  /**
   * Removes the breaker of `key`; true if there was one. A caller still
   * holding it keeps a working breaker, detached from the group.
   */
  delete(key) {
    if (!this.#entries.has(key)) {
      return false;
    }
    this.#remove(key);
    return true;
  }

  #remove(key) {
    const { breaker, detach } = this.#entries.get(key);
    this.#entries.delete(key);
    for (const unsubscribe of detach.values()) {
      unsubscribe();
    }
    for (const watcher of this.#watchers) {
      watcher.removed?.(key, breaker);
    }
  }

  /** Every breaker's stats, by key. */
  stats() {
    const stats = {};
    for (const [key, { breaker }] of this.#entries) {
      stats[key] = breaker.stats();
    }
    return stats;
  }

  /**
   * Calls `listener` on `event` of every breaker of the group, with the
   * breaker's key as `key` on the payload (an "error" payload is
   * `{ key, error }`); returns a function that unsubscribes it.
   */
  on(event, listener) {
    if (!EVENTS.includes(event)) {
      throw new RangeError(`event must be one of ${EVENTS.join(", ")}, got ${String(event)}`);
    }
    if (typeof listener !== "function") {
      throw new TypeError(`listener must be a function, got ${show(listener)}`);
    }
    let listeners = this.#listeners.get(event);
    if (listeners === undefined) {
      listeners = new Set();
      this.#listeners.set(event, listeners);
      for (const [key, entry] of this.#entries) {
        this.#forward(key, entry, event);
      }
    }
    const entry = (payload) => listener(payload);
    listeners.add(entry);
    return () => {
      listeners.delete(entry);
      if (listeners.size === 0 && this.#listeners.get(event) === listeners) {
        // No group listener is left: the breakers stop forwarding (a
        // success or failure listener costs every call its timing).
        this.#listeners.delete(event);
        for (const { detach } of this.#entries.values()) {
          detach.get(event)?.();
          detach.delete(event);
        }
      }
    };
  }

  /** Subscribes the group's listeners of `event` to the breaker of `key`. */
  #forward(key, entry, event) {
    const unsubscribe = entry.breaker.on(event, (payload) => {
      const keyed = event === "error" ? { key, error: payload } : { ...payload, key };
      // Every listener runs; what they throw is then the breaker's to
      // report, like its own listeners' errors.
      const errors = [];
      for (const listener of [...(this.#listeners.get(event) ?? [])]) {
        try {
          listener(keyed);
        } catch (error) {
          errors.push(error);
        }
      }
      if (errors.length !== 0) {
        throw errors.length === 1 ? errors[0] : new AggregateError(errors, `${errors.length} "${event}" listeners of the group threw`);
      }
    });
    entry.detach.set(event, unsubscribe);
  }

  /**
   * For integrations (tripgate/otel, tripgate/prometheus): calls
   * `watcher.added(key, breaker)` for every breaker of the group, now and
   * as it is created, and `watcher.removed(key, breaker)` as one is evicted
   * or deleted; returns a function that stops it. (A plain method name,
   * not a symbol: a computed key would keep the class in bundles that
   * never use it.)
   */
  _watch(watcher) {
    this.#watchers.add(watcher);
    for (const [key, { breaker }] of this.#entries) {
      watcher.added?.(key, breaker);
    }
    return () => {
      this.#watchers.delete(watcher);
    };
  }
}
