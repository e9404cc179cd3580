// The browser payload, measured one way everywhere (the budget test, the
// benchmark): esbuild bundles an entry the way a browser app would (tree-
// shaken, minified, ESM, browser platform, UTF-8 output as Vite and Rollup
// write it) and the result is gzipped at level 9.
import { build } from "esbuild";
import { gzipSync } from "node:zlib";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The npm package folder: `import ... from "tripgate"` resolves here, through its package.json. */
export const PACKAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), "..");

/** The entry whose payload the budget holds: the breaker alone, constructed and used. */
export const BREAKER_ENTRY = `import { CircuitBreaker } from "tripgate";
const breaker = new CircuitBreaker({ failureTolerance: 5, resetTimeout: 30000 });
export const call = (fn) => breaker.execute(fn);`;

/**
 * Bytes of `entry` bundled for a browser, gzipped; `resolveDir` is where
 * its imports other than "tripgate" resolve from. `charset` "ascii" gives
 * esbuild's own default, which escapes every non-ASCII character.
 */
export async function gzippedPayload(entry, { resolveDir = PACKAGE_DIR, charset = "utf8", external = [] } = {}) {
  const result = await build({
    stdin: { contents: entry, resolveDir, loader: "js" },
    alias: { tripgate: PACKAGE_DIR },
    bundle: true,
    minify: true,
    write: false,
    format: "esm",
    platform: "browser",
    charset,
    external,
    logLevel: "silent",
    logOverride: { "empty-import-meta": "silent" },
  });
  const minified = result.outputFiles[0].contents;
  return { minified: minified.length, gzipped: gzipSync(minified, { level: 9 }).length };
}
