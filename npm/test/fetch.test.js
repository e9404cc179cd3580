// tripgate/fetch against real HTTP servers on 127.0.0.1 (started and
// stopped here, also when a test fails): one breaker per origin, 5xx and
// 429 counted but returned, Retry-After honoured, signals, and the errors.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, test } from "node:test";

import { CircuitOpenError } from "../dist/index.js";
import { createFetch, parseRetryAfter } from "../dist/fetch.js";

const servers = [];

/** A server answering every request with `respond(request)` → { status, headers, body, delay }. */
async function serve(respond) {
  const server = createServer((request, response) => {
    server.requests += 1;
    const { status = 200, headers = {}, body = "ok", delay = 0 } = respond(request) ?? {};
    setTimeout(() => {
      response.writeHead(status, headers);
      response.end(body);
    }, delay);
  });
  server.requests = 0;
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  servers.push(server);
  server.origin = `http://127.0.0.1:${server.address().port}`;
  return server;
}

after(async () => {
  for (const server of servers) {
    server.closeAllConnections?.();
    await new Promise((resolve) => server.close(resolve));
  }
});

test("a failing origin opens its own breaker; a healthy one is never rejected", async () => {
  const flaky = await serve(() => ({ status: 503, body: "down" }));
  const healthy = await serve(() => ({ status: 200 }));
  const guarded = createFetch({ failureTolerance: 1, resetTimeout: 60000 });
  for (let i = 0; i < 2; i++) {
    const response = await guarded(`${flaky.origin}/x`);
    assert.equal(response.status, 503, "a counted response is returned as usual");
    assert.equal(await response.text(), "down");
  }
  await assert.rejects(guarded(`${flaky.origin}/x`), (error) => error instanceof CircuitOpenError && error.breakerName === flaky.origin);
  assert.equal(flaky.requests, 2, "the open breaker kept the request from the server");
  for (let i = 0; i < 5; i++) {
    assert.equal((await guarded(new URL("/y", healthy.origin))).status, 200);
  }
  assert.deepEqual(guarded.group.keys().sort(), [flaky.origin, healthy.origin].sort());
  assert.equal(guarded.group.stats()[healthy.origin].rejections, 0);
});

test("429 and 503 with Retry-After open the breaker at once for the hinted time", async () => {
  const throttled = await serve(() => ({ status: 429, headers: { "retry-after": "120" } }));
  const guarded = createFetch({ failureTolerance: 5, resetTimeout: 1000 });
  assert.equal((await guarded(`${throttled.origin}/`)).status, 429);
  const breaker = guarded.group.get(throttled.origin);
  assert.equal(breaker.state, "open");
  assert.ok(breaker.retryAfter > 119000 && breaker.retryAfter <= 120000, String(breaker.retryAfter));
  const date = new Date(Date.now() + 30000).toUTCString();
  const unavailable = await serve(() => ({ status: 503, headers: { "retry-after": date } }));
  await guarded(`${unavailable.origin}/`);
  const retryAfter = guarded.group.get(unavailable.origin).retryAfter;
  assert.ok(retryAfter > 25000 && retryAfter <= 30000, String(retryAfter));
});

test("parseRetryAfter reads delta-seconds and HTTP dates, and nothing else", () => {
  assert.equal(parseRetryAfter("5"), 5000);
  assert.equal(parseRetryAfter(" 0 "), 0);
  assert.equal(parseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT", Date.parse("Wed, 21 Oct 2015 07:27:00 GMT")), 60000);
  assert.equal(parseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT", Date.parse("Wed, 21 Oct 2015 08:00:00 GMT")), 0);
  assert.equal(parseRetryAfter("-5"), null);
  assert.equal(parseRetryAfter("soon"), null);
  assert.equal(parseRetryAfter(null), null);
});

test("the caller's signal aborts the request and releases its permit; callTimeout counts a failure", async () => {
  const slow = await serve(() => ({ delay: 2000 }));
  const guarded = createFetch({ callTimeout: 50, failureTolerance: 10 });
  const controller = new AbortController();
  const pending = guarded(`${slow.origin}/`, { signal: controller.signal });
  setTimeout(() => controller.abort(), 10);
  await assert.rejects(pending, (error) => error.name === "AbortError");
  await assert.rejects(guarded(`${slow.origin}/`), (error) => error.code === "call_timeout");
  const stats = guarded.group.stats()[slow.origin];
  assert.deepEqual([stats.released, stats.failures, stats.inFlight], [1, 1, 0]);
});

test("key, isResultFailure, fetch and fallback options", async () => {
  const server = await serve((request) => ({ status: request.url === "/missing" ? 404 : 200 }));
  const seen = [];
  const guarded = createFetch({
    key: (url) => url.pathname,
    isResultFailure: (response) => response.status === 404,
    failureTolerance: 0,
    fallback: () => new Response("cached", { status: 200 }),
    fetch: (input, init) => {
      seen.push(String(input));
      return fetch(input, init);
    },
  });
  assert.equal((await guarded(`${server.origin}/missing`)).status, 404);
  const answered = await guarded(`${server.origin}/missing`);
  assert.equal(await answered.text(), "cached", "the fallback answers the rejection");
  assert.equal((await guarded(`${server.origin}/fine`)).status, 200);
  assert.deepEqual(guarded.group.keys(), ["/missing", "/fine"]);
  assert.equal(seen.length, 2);
});

test("network errors count as failures; bad options are typed errors", async () => {
  const server = await serve(() => ({}));
  const origin = server.origin;
  await new Promise((resolve) => server.close(resolve));
  servers.splice(servers.indexOf(server), 1);
  const guarded = createFetch({ failureTolerance: 0 });
  await assert.rejects(guarded(`${origin}/`), TypeError);
  await assert.rejects(guarded(`${origin}/`), CircuitOpenError);
  assert.throws(
    () => createFetch({ fetch: 1 }),
    (e) => e instanceof TypeError && /^fetch must be a function/.test(e.message),
  );
  assert.throws(() => createFetch({ key: "origin" }), TypeError);
  assert.throws(() => createFetch({ resetTimeout: 0 }), RangeError);
  assert.throws(() => createFetch({ maxBreakers: 0 }), RangeError);
  await assert.rejects(guarded("not a url at all"), TypeError);
});
