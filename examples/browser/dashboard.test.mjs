// End to end in real headless Chromium: the dashboard page, a fetch layer
// built with tripgate/fetch over two origins, goes through closed, open,
// half-open and closed again against the looping flaky service, while the
// healthy origin's breaker is never rejected; the rendered state and chart
// are checked, the manual buttons clicked, and a screenshot saved to
// target/artefacts/dashboard.png.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const { chromium } = createRequire(join(root, "npm", "package.json"))("playwright-core");

test("the dashboard shows a whole breaker cycle and its buttons work", async () => {
  const server = spawn(process.execPath, [join(here, "serve.mjs"), "--port", "0", "--phases", "1.5,2.5,1,30"], { stdio: ["ignore", "pipe", "inherit"] });
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  try {
    const [line] = await once(createInterface({ input: server.stdout }), "line");
    const url = line.match(/http:\/\/\S+/)[0];
    const page = await browser.newPage({ viewport: { width: 960, height: 520 } });
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(url);
    await page.waitForFunction(
      () => {
        const path = window.dashboard?.transitions.map((t) => t.to).join(",") ?? "";
        return /open.*half_open.*closed/.test(path);
      },
      null,
      { timeout: 30_000, polling: 100 },
    );
    const path = await page.evaluate(() => window.dashboard.transitions.map((t) => `${t.from}->${t.to}`));
    assert.equal(path[0], "closed->open");
    assert.ok(path.includes("open->half_open") && path.at(-1) === "half_open->closed", path.join(" "));
    await page.waitForTimeout(300);
    assert.equal(await page.textContent("#state"), "closed");
    const chart = await page.evaluate(() => ({
      bands: [...document.querySelectorAll("#chart .band")].map((b) => b.dataset.state),
      succeeded: document.querySelectorAll("#chart .call.succeeded").length,
      failed: document.querySelectorAll("#chart .call.failed").length,
      rejected: document.querySelectorAll("#chart .call.rejected").length,
    }));
    assert.ok(chart.bands.includes("open") && chart.bands.includes("closed"), JSON.stringify(chart));
    assert.ok(chart.succeeded > 0 && chart.failed > 0 && chart.rejected > 0, JSON.stringify(chart));
    const healthy = await page.evaluate(() => {
      const { healthyCalls, group, healthyOrigin } = window.dashboard;
      return {
        kinds: [...new Set(healthyCalls.map((c) => c.kind))],
        whileFlakyOpen: healthyCalls.filter((c) => c.flakyState === "open").length,
        stats: group.stats()[healthyOrigin],
        keys: group.keys(),
      };
    });
    assert.deepEqual(healthy.kinds, ["succeeded"], "the healthy origin is never rejected, nor fails");
    assert.ok(healthy.whileFlakyOpen > 0, "some healthy calls were made while the flaky origin's breaker was open");
    assert.equal(healthy.stats.rejections, 0);
    assert.equal(healthy.keys.length, 2, "one breaker per origin");
    assert.equal(await page.textContent('[data-origin-rejections="healthy"]'), "0");
    mkdirSync(join(root, "target", "artefacts"), { recursive: true });
    await page.screenshot({ path: join(root, "target", "artefacts", "dashboard.png") });

    await page.click("#force-open");
    assert.equal(await page.textContent("#state"), "forced_open");
    await page.click("#force-closed");
    assert.equal(await page.textContent("#state"), "forced_closed");
    await page.click("#reset");
    assert.equal(await page.textContent("#state"), "closed");
    assert.ok(Number(await page.textContent('[data-stat="rejections"]')) > 0, "the stats table shows the rejections");
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    server.kill("SIGTERM");
  }
});
