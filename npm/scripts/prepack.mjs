// Runs before `npm pack` and `npm publish`: builds dist/ (`make js-build`
// from the repository root, which installs what it needs) so that the
// package is never packed without it, and refuses, saying why, when it
// cannot be built.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const pkg = join(dirname(fileURLToPath(import.meta.url)), "..");
const root = join(pkg, "..");
const entries = ["index", "fetch", "otel", "prometheus"];
const needed = [
  ...entries.flatMap((e) => [`dist/${e}.js`, `dist/${e}.cjs`, `dist/${e}.d.ts`, `dist/${e}.d.cts`]),
  "README.md",
  "LICENSE-MIT",
  "LICENSE-APACHE",
];

const build = spawnSync("make", ["-s", "js-build"], { cwd: root, stdio: ["ignore", "inherit", "inherit"] });
if (build.error !== undefined || build.status !== 0) {
  console.error(
    "prepack: could not build dist/ with `make js-build` " +
      `(${build.error?.message ?? `exit status ${build.status}`}). It needs make, Rust (rustup, for the ` +
      "wasm32-unknown-unknown target) and cargo, run from a checkout of the tripgate repository. " +
      "Nothing was packed.",
  );
  process.exit(1);
}
const missing = needed.filter((file) => !existsSync(join(pkg, file)));
if (missing.length > 0) {
  console.error(`prepack: the package would lack ${missing.join(", ")}; nothing was packed.`);
  process.exit(1);
}
