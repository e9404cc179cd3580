// tripgate/otel and tripgate/prometheus against the real SDKs: the
// OpenTelemetry SDK's MeterProvider read by a MetricReader, and prom-client's
// text exposition parsed back. The same series from both, for a breaker and
// for a group whose breakers come and go.
import assert from "node:assert/strict";
import { test } from "node:test";

import { MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import client from "prom-client";

import { CircuitBreaker, CircuitBreakerGroup } from "../dist/index.js";
import { instrument as instrumentOtel } from "../dist/otel.js";
import { instrument as instrumentPrometheus } from "../dist/prometheus.js";

class TestReader extends MetricReader {
  async onForceFlush() {}
  async onShutdown() {}
}

/** The OTel SDK's points, as { metric: { "k=v,k=v": value } }. */
async function otelPoints(reader) {
  const { resourceMetrics, errors } = await reader.collect();
  assert.deepEqual(errors, []);
  const out = {};
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      out[metric.descriptor.name] ??= {};
      const points = out[metric.descriptor.name];
      for (const point of metric.dataPoints) {
        points[labels(point.attributes)] = point.value;
      }
    }
  }
  return out;
}

/** Prometheus text, parsed: { metric: { "k=v,k=v": value } }; checks the TYPE lines. */
function parsePrometheus(text) {
  const out = {};
  const types = {};
  for (const line of text.split("\n")) {
    const type = line.match(/^# TYPE (\S+) (\S+)$/);
    if (type) {
      types[type[1]] = type[2];
      continue;
    }
    const sample = line.match(/^(\w+)\{(.*)\} (\S+)$/);
    if (sample) {
      const attributes = Object.fromEntries([...sample[2].matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
      out[sample[1]] ??= {};
      out[sample[1]][labels(attributes)] = Number(sample[3]);
    }
  }
  return { samples: out, types };
}

function labels(attributes) {
  return Object.keys(attributes)
    .sort()
    .map((k) => `${k}=${attributes[k]}`)
    .join(",");
}

/** A breaker driven through success, failure (opening it), rejection, release and a timeout. */
async function exercise(breaker, clock) {
  await breaker.execute(() => "ok");
  breaker.tryAcquire().release();
  await assert.rejects(
    breaker.execute(() => new Promise(() => {})),
    (e) => e.code === "call_timeout",
  );
  await assert.rejects(breaker.execute(() => Promise.reject(new Error("boom"))));
  await assert.rejects(
    breaker.execute(() => "never"),
    (e) => e.code === "circuit_open",
  );
  clock.now = 1000;
  assert.equal(breaker.state, "half_open");
}

function newBreaker(name, clock) {
  return new CircuitBreaker({ name, failureTolerance: 1, resetTimeout: 1000, callTimeout: 5, clock: () => clock.now });
}

const expectedCalls = (breaker) => ({
  [`breaker=${breaker},outcome=success`]: 1,
  [`breaker=${breaker},outcome=failure`]: 1,
  [`breaker=${breaker},outcome=rejected`]: 1,
  [`breaker=${breaker},outcome=released`]: 1,
  [`breaker=${breaker},outcome=timeout`]: 1,
});

const expectedTransitions = (breaker) => ({
  [`breaker=${breaker},from=closed,reason=failure_tolerance_exceeded,to=open`]: 1,
  [`breaker=${breaker},from=open,reason=reset_timeout_elapsed,to=half_open`]: 1,
});

const expectedState = (breaker, current) =>
  Object.fromEntries(["closed", "open", "half_open", "forced_open", "forced_closed"].map((s) => [`breaker=${breaker},state=${s}`, s === current ? 1 : 0]));

test("OpenTelemetry: state, calls (a timeout once, as timeout) and transitions of a breaker", async () => {
  const clock = { now: 0 };
  const breaker = newBreaker("payments", clock);
  const reader = new TestReader();
  const provider = new MeterProvider({ readers: [reader] });
  const handle = instrumentOtel(breaker, provider.getMeter("test"));
  await exercise(breaker, clock);
  const points = await otelPoints(reader);
  assert.deepEqual(points["tripgate.breaker.state"], expectedState("payments", "half_open"));
  assert.deepEqual(points["tripgate.breaker.calls"], expectedCalls("payments"));
  assert.deepEqual(points["tripgate.breaker.transitions"], expectedTransitions("payments"));
  handle.close();
  handle.close();
  // After close() the breaker is no longer observed: what it does changes
  // nothing (the SDK keeps reporting a cumulative series' last value).
  breaker.forceOpen();
  await breaker.execute(() => 1).catch(() => {});
  const after = await otelPoints(reader);
  assert.equal(after["tripgate.breaker.state"]?.["breaker=payments,state=forced_open"] ?? 0, 0);
  assert.equal(after["tripgate.breaker.calls"]?.["breaker=payments,outcome=rejected"] ?? 1, 1);
  await provider.shutdown();
});

test("OpenTelemetry: a group's breakers are covered as they are created and dropped when evicted", async () => {
  const group = new CircuitBreakerGroup({ maxBreakers: 1, failureTolerance: 0 });
  const reader = new TestReader();
  const provider = new MeterProvider({ readers: [reader] });
  instrumentOtel(group, provider.getMeter("test"));
  await group.execute("a.example", () => 1);
  let points = await otelPoints(reader);
  assert.equal(points["tripgate.breaker.calls"]["breaker=a.example,outcome=success"], 1);
  const evicted = group.get("a.example");
  await assert.rejects(group.execute("b.example", () => Promise.reject(new Error("x"))));
  assert.deepEqual(group.keys(), ["b.example"]);
  await evicted.execute(() => 2);
  points = await otelPoints(reader);
  assert.equal(points["tripgate.breaker.state"]["breaker=b.example,state=open"], 1);
  assert.equal(points["tripgate.breaker.calls"]["breaker=b.example,outcome=failure"], 1);
  // The evicted breaker is no longer observed: its later call is not counted.
  assert.equal(points["tripgate.breaker.calls"]["breaker=a.example,outcome=success"], 1);
  assert.throws(() => instrumentOtel({}, provider.getMeter("x")), TypeError);
  assert.throws(() => instrumentOtel(group, {}), TypeError);
  await provider.shutdown();
});

test("Prometheus: the same series in prom-client's text format, parsed back", async () => {
  const clock = { now: 0 };
  const breaker = newBreaker("payments", clock);
  const other = newBreaker("search", clock);
  const registry = new client.Registry();
  const handle = instrumentPrometheus(breaker, { registry });
  const second = instrumentPrometheus(other, { registry });
  await exercise(breaker, clock);
  const { samples, types } = parsePrometheus(await registry.metrics());
  assert.deepEqual(types, {
    tripgate_breaker_state: "gauge",
    tripgate_breaker_calls_total: "counter",
    tripgate_breaker_transitions_total: "counter",
  });
  assert.deepEqual(samples.tripgate_breaker_state, { ...expectedState("payments", "half_open"), ...expectedState("search", "closed") });
  assert.deepEqual(Object.fromEntries(Object.entries(samples.tripgate_breaker_calls_total).filter(([k]) => k.includes("payments"))), expectedCalls("payments"));
  assert.deepEqual(samples.tripgate_breaker_transitions_total, expectedTransitions("payments"));
  second.close();
  handle.close();
  assert.equal(registry.getMetricsAsArray().length, 0, "the metrics leave the registry with the last instrumented breaker");
});

test("Prometheus: a group in the default registry, evicted breakers' series removed", async () => {
  const group = new CircuitBreakerGroup({ maxBreakers: 1 });
  const handle = instrumentPrometheus(group);
  await group.execute("a.example", () => 1);
  let { samples } = parsePrometheus(await client.register.metrics());
  assert.equal(samples.tripgate_breaker_calls_total["breaker=a.example,outcome=success"], 1);
  await group.execute("b.example", () => 1);
  ({ samples } = parsePrometheus(await client.register.metrics()));
  assert.ok(!Object.keys(samples.tripgate_breaker_calls_total).some((k) => k.includes("a.example")));
  assert.equal(samples.tripgate_breaker_calls_total["breaker=b.example,outcome=success"], 1);
  handle.close();
  assert.throws(() => instrumentPrometheus(group, { registry: {} }), TypeError);
  assert.throws(() => instrumentPrometheus(group, { registy: new client.Registry() }), TypeError);
});
