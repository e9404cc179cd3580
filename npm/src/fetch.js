// tripgate/fetch: a `fetch` with one circuit breaker per origin. A separate
// entry point: `import { CircuitBreaker } from "tripgate"` never loads it.
// It converts (URLs to keys, responses to outcomes, Retry-After headers to
// hints); every decision is the breakers'.

import { CircuitBreakerGroup } from "./index.js";

/** The default key: the URL's origin (scheme, host and port). */
function originOf(url) {
  return url.origin;
}

/** The default failure: a 5xx response, or 429 Too Many Requests. */
function isServerFailure(response) {
  return response.status >= 500 || response.status === 429;
}

/**
 * The milliseconds a `Retry-After` header value asks for: delta-seconds or
 * an HTTP date (RFC 9110, section 10.2.3); null when it is neither.
 */
export function parseRetryAfter(value, now = Date.now()) {
  if (typeof value !== "string") {
    return null;
  }
  const text = value.trim();
  if (/^\d+$/.test(text)) {
    return Number(text) * 1000;
  }
  // An HTTP date names its day and month ("Wed, 21 Oct 2015 07:28:00 GMT"):
  // Date.parse alone would take "-5" for a year.
  const at = /^[A-Za-z]{3}/.test(text) ? Date.parse(text) : Number.NaN;
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/** The default hint: the Retry-After of a 429 or 503 response. */
function retryAfterOfResponse(failed) {
  if (failed === null || typeof failed !== "object" || typeof failed.headers?.get !== "function") {
    return null;
  }
  if (failed.status !== 429 && failed.status !== 503) {
    return null;
  }
  return parseRetryAfter(failed.headers.get("retry-after"));
}

function requireFunction(option, value) {
  if (typeof value !== "function") {
    throw new TypeError(`${option} must be a function, got ${value === null ? "null" : typeof value}`);
  }
}

/** The absolute URL `input` (a string, a URL or a Request) asks for. */
function urlOf(input) {
  const href = typeof input === "string" || input instanceof URL ? String(input) : input?.url;
  return new URL(href, globalThis.location?.href);
}

/**
 * A function with `fetch`'s signature whose requests go through one
 * breaker per key (by default per origin) of a CircuitBreakerGroup, exposed
 * as its `group`. Options: `fetch` (default globalThis.fetch), `key(url)`,
 * `isResultFailure(response)` (default: status >= 500 or 429), and every
 * breaker and group option. A counted response is still returned to the
 * caller; a rejection rejects with CircuitOpenError; `init.signal` aborts
 * the request and releases its permit.
 */
export function createFetch(options = {}) {
  if (options === null || typeof options !== "object") {
    throw new TypeError(`options must be an object, got ${options === null ? "null" : typeof options}`);
  }
  const { fetch: baseFetch = globalThis.fetch, key = originOf, isResultFailure = isServerFailure, ...breakerOptions } = options;
  requireFunction("fetch", baseFetch);
  requireFunction("key", key);
  requireFunction("isResultFailure", isResultFailure);
  const group = new CircuitBreakerGroup({ retryAfterHint: retryAfterOfResponse, ...breakerOptions, isResultFailure });
  const guardedFetch = (input, init) => {
    let breakerKey;
    try {
      breakerKey = key(urlOf(input));
    } catch (error) {
      return Promise.reject(error);
    }
    const signal = init?.signal ?? (typeof Request === "function" && input instanceof Request ? input.signal : undefined);
    return group.execute(breakerKey, ({ signal: callSignal }) => baseFetch(input, { ...init, signal: callSignal }), signal ? { signal } : undefined);
  };
  guardedFetch.group = group;
  return guardedFetch;
}
