// Type tests: this file must compile with `tsc --noEmit --strict`; each
// `@ts-expect-error` line must fail to compile (tsc reports it if it does not).
import { CallTimeoutError, CircuitBreaker, CircuitOpenError, type Stats, type State, type StateChange } from "tripgate";

interface Reply {
  status: number;
}

const breaker = new CircuitBreaker<Reply>({
  failureTolerance: 3,
  resetTimeout: 10_000,
  callTimeout: 2_000,
  failureRate: { threshold: 0.5, minimumCalls: 10, windowDuration: 60_000 },
  backoff: { multiplier: 2, maxResetTimeout: 60_000, jitter: 0.1 },
  isResultFailure: (res) => res.status >= 500,
  name: "api",
});

async function main(): Promise<void> {
  const reply: Reply = await breaker.execute(async ({ signal }) => {
    void signal.aborted;
    return { status: 200 };
  });
  void reply;
  const get = breaker.wrap((id: number, verbose: boolean) => Promise.resolve({ status: id + (verbose ? 1 : 0) }));
  const r: Reply = await get(1, true);
  void r;
  // @ts-expect-error: wrap keeps fn's parameters
  await get("1", true);
  const state: State = breaker.state;
  const stats: Stats = breaker.stats();
  const after: number | null = breaker.retryAfter;
  void [state, stats, after];
  const off = breaker.on("stateChange", (change: StateChange) => void change.reason);
  off();
  // @ts-expect-error: no such event
  breaker.on("opened", () => {});
  // @ts-expect-error: a stateChange payload has no status
  breaker.on("stateChange", (change) => void change.status);
  const permit = breaker.tryAcquire();
  if (permit !== null) {
    permit.success();
  }
  try {
    await breaker.execute(() => ({ status: 1 }));
  } catch (error) {
    if (error instanceof CircuitOpenError) {
      const retry: number | null = error.retryAfter;
      const code: "circuit_open" = error.code;
      void [retry, code];
    } else if (error instanceof CallTimeoutError) {
      void error.timeout;
    }
  }
  const snapshot = breaker.snapshot();
  const rng: string = snapshot.rng_state;
  const window = snapshot.window;
  if (window !== null && window.kind === "buckets") {
    const first: number | undefined = window.buckets[0]?.index;
    void first;
  }
  void rng;
  const restored = CircuitBreaker.restore(snapshot, { resetTimeout: 5 });
  restored.dispose();
}

// @ts-expect-error: failureTolerance is a number
new CircuitBreaker({ failureTolerance: "3" });
// @ts-expect-error: a failure rate takes one window, not both
new CircuitBreaker({ failureRate: { threshold: 0.5, minimumCalls: 2, windowCalls: 5, windowDuration: 100 } });
// @ts-expect-error: unknown option
new CircuitBreaker({ resetTimeot: 5 });
// @ts-expect-error: rng_state is a decimal string, not a number
CircuitBreaker.restore({ ...new CircuitBreaker().snapshot(), rng_state: 7 });

void main;

// Issue 12: fallbacks, Retry-After hints, groups.
import { CircuitBreakerGroup } from "tripgate";

const withFallback = new CircuitBreaker<Reply>({
  fallback: () => ({ status: 503 }),
  retryAfterHint: (failed) => ((failed as { retryAfterMs?: number }).retryAfterMs ?? null),
  maxRetryAfter: 60_000,
});
async function issue12(): Promise<void> {
  const answered: Reply = await withFallback.execute(() => ({ status: 200 }), { fallback: async () => ({ status: 204 }) });
  void answered;
  // @ts-expect-error: a per-call fallback answers with the call's type
  await withFallback.execute(() => ({ status: 200 }), { fallback: () => "text" });
  const permit = withFallback.tryAcquire();
  permit?.failure({ retryAfter: 1_000 });
  withFallback.on("success", (e) => {
    const ms: number | null = e.duration;
    void ms;
  });
  const group = new CircuitBreakerGroup<Reply>({ failureTolerance: 2, maxBreakers: 10 });
  const fromGroup: Reply = await group.execute("api.example", () => ({ status: 200 }));
  void fromGroup;
  const keyed: Stats = group.stats()["api.example"];
  void keyed;
  const stop = group.on("stateChange", (e) => {
    const key: string = e.key;
    void key;
  });
  stop();
  // @ts-expect-error: breakers of a group are named by their keys
  new CircuitBreakerGroup({ name: "x" });
}
void issue12;

// The subpaths' types.
import { createFetch, parseRetryAfter } from "tripgate/fetch";
import { instrument } from "tripgate/otel";

const guardedFetch = createFetch({ failureTolerance: 3, maxBreakers: 50, isResultFailure: (response) => response.status >= 500 });
async function subpaths(): Promise<void> {
  const response: Response = await guardedFetch("https://api.example/x", { method: "POST" });
  void response;
  const hint: number | null = parseRetryAfter("5");
  void hint;
  const group: CircuitBreakerGroup<Response> = guardedFetch.group;
  void group;
  // @ts-expect-error: key maps a URL to a string
  createFetch({ key: (url: URL) => url.port.length });
}
void subpaths;
declare const meter: Parameters<typeof instrument>[1];
instrument(guardedFetch.group, meter).close();
