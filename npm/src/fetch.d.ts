// Types of `tripgate/fetch`. Times are milliseconds.
import type { CircuitBreakerGroup, CircuitBreakerGroupOptions } from "./index.js";

export interface CreateFetchOptions extends Omit<CircuitBreakerGroupOptions<Response>, "isResultFailure"> {
  /** The fetch to guard (default: globalThis.fetch). */
  fetch?: (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;
  /** The breaker key of a request's URL (default: its origin, scheme + host + port). */
  key?: (url: URL) => string;
  /** Whether a response counts as a failure (default: status >= 500 or 429); it is returned to the caller either way. */
  isResultFailure?: (response: Response) => boolean;
}

/** `fetch`, with one breaker per key; rejects with CircuitOpenError while the key's breaker is open. */
export interface GuardedFetch {
  (input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
  /** The breakers, one per key. */
  readonly group: CircuitBreakerGroup<Response>;
}

export declare function createFetch(options?: CreateFetchOptions): GuardedFetch;

/** The milliseconds a Retry-After header value asks for (delta-seconds or an HTTP date), or null. */
export declare function parseRetryAfter(value: string | null | undefined, now?: number): number | null;
