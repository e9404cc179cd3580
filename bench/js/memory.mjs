// Memory per idle breaker (issue "Smaller and faster", "Also measure"): bytes
// of JS heap and of WebAssembly memory for 10,000 breakers with default
// options, and with a 1,000-call failure-rate window. Run with
// `node --expose-gc bench/js/memory.mjs` after `make js-build`.
import { CircuitBreaker, wasmMemoryBytes } from "../../npm/dist/index.js";

const COUNT = 10_000;
const settle = () => {
  for (let i = 0; i < 3; i++) globalThis.gc();
};

/** Per-breaker growth for COUNT more breakers, all kept alive (freed memory would be reused and hide them). */
const kept = [];
function measure(options) {
  settle();
  const heap = process.memoryUsage().heapUsed;
  const wasm = wasmMemoryBytes();
  kept.push(Array.from({ length: COUNT }, () => new CircuitBreaker(options)));
  settle();
  return {
    heap: (process.memoryUsage().heapUsed - heap) / COUNT,
    wasm: (wasmMemoryBytes() - wasm) / COUNT,
  };
}

if (globalThis.gc === undefined) throw new Error("run with node --expose-gc");
for (const [name, options] of [
  ["default options", {}],
  ["1,000-call window", { failureRate: { threshold: 0.5, minimumCalls: 10, windowCalls: 1_000 } }],
]) {
  const { heap, wasm } = measure(options);
  console.log(`${name}: ${heap.toFixed(0)} B of JS heap + ${wasm.toFixed(0)} B of wasm memory per breaker (${COUNT.toLocaleString("en")} breakers)`);
}
console.log("(wasm memory grows in 64 KiB pages: the figure is within 7 B of the true size per breaker at this count)");
