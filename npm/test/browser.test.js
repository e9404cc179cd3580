// In a real headless Chromium (Debian's chromium, driven by playwright-core):
// a page imports the package as a native ES module, and a Vite production
// build of a page imports it from the packed tarball; both run a breaker
// through open, half-open and closed against a local flaky HTTP service.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, extname, join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

const pkg = join(dirname(fileURLToPath(import.meta.url)), "..");
const CHROMIUM = "/usr/bin/chromium";
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript" };

/** A flaky service (503 until /control?healthy=1) that also serves static files from `root`. */
function serve(root, pageHtml) {
  const service = { requests: 0, healthy: false };
  const server = createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    if (url.pathname === "/api") {
      service.requests += 1;
      res.writeHead(service.healthy ? 200 : 503).end(service.healthy ? "ok" : "unavailable");
    } else if (url.pathname === "/control") {
      service.healthy = url.searchParams.get("healthy") === "1";
      res.writeHead(204).end();
    } else if (url.pathname === "/" && pageHtml !== undefined) {
      res.writeHead(200, { "content-type": "text/html" }).end(pageHtml);
    } else {
      const file = join(root, url.pathname === "/" ? "index.html" : url.pathname);
      if (!file.startsWith(root) || !existsSync(file)) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" }).end(readFileSync(file));
    }
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ server, service, url: `http://127.0.0.1:${server.address().port}/` })));
}

let browser;

before(async () => {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
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
});

after(async () => {
  await browser?.close();
});

async function runPage(url) {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(url);
  await page.waitForFunction(() => window.result !== undefined, null, { timeout: 15_000 });
  const result = await page.evaluate(() => window.result);
  await page.close();
  assert.deepEqual(errors, []);
  return result;
}

function assertCycle(result, service) {
  assert.deepEqual(result.outcomes, [503, 503, "rejected", "rejected", 200], JSON.stringify(result));
  assert.deepEqual(result.states, ["closed->open", "open->half_open", "half_open->closed"]);
  assert.equal(result.state, "closed");
  assert.equal(service.requests, 4, "the rejected calls never reached the service (the 4th request is tripgate/fetch's)");
  assert.equal(result.fetchLayer.status, 200);
  assert.equal(result.fetchLayer.shared, true, "tripgate/fetch shares the main entry's classes");
  assert.equal(result.fetchLayer.keys.length, 1);
  assert.match(result.fetchLayer.keys[0], /^http:\/\/127\.0\.0\.1:\d+$/);
}

test("a page importing the package as a native ES module", async () => {
  const html = readFileSync(join(pkg, "test", "browser", "page.html"), "utf8")
    .replace("TRIPGATE_MODULE", "/dist/index.js")
    .replace("TRIPGATE_FETCH", "/dist/fetch.js");
  const { server, service, url } = await serve(pkg, html);
  try {
    assertCycle(await runPage(url), service);
  } finally {
    server.close();
  }
});

test("a Vite production build of a page importing the packed package", async () => {
  const work = mkdtempSync(join(tmpdir(), "tripgate-vite-"));
  const packed = execFileSync("npm", ["pack", "--silent", "--pack-destination", work], { cwd: pkg, encoding: "utf8" }).trim().split("\n").at(-1);
  const app = join(work, "app");
  mkdirSync(app);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", join(work, packed)], { cwd: app });
  // The page's script moves to a module Vite bundles; no Vite configuration at all.
  const html = readFileSync(join(pkg, "test", "browser", "page.html"), "utf8");
  const script = html
    .match(/<script type="module">([\s\S]*?)<\/script>/)[1]
    .replace("TRIPGATE_MODULE", "tripgate")
    .replace("TRIPGATE_FETCH", "tripgate/fetch");
  writeFileSync(join(app, "main.js"), script);
  writeFileSync(join(app, "index.html"), html.replace(/<script type="module">[\s\S]*?<\/script>/, '<script type="module" src="/main.js"></script>'));
  execFileSync("node", [join(pkg, "node_modules", "vite", "bin", "vite.js"), "build", "--logLevel", "warn"], { cwd: app, stdio: "pipe" });
  const { server, service, url } = await serve(join(app, "dist"));
  try {
    assertCycle(await runPage(url), service);
  } finally {
    server.close();
  }
});
