/**
 * The project's test command (`npm test`): every check CI runs, in order, each reported as it
 * finishes, and a last line `N passed, N failed, N skipped` that counts every test case of both
 * runtimes plus each whole-tree check (generated code, types, lint, build) as one.
 *   bun run test/run-all.ts [--only bun|deno|checks]
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { countJunit, type TestCounts } from "./support/junit.ts";

const root = new URL("..", import.meta.url).pathname;
const bin = (name: string) => join(root, "node_modules/.bin", name);
const reports = join(root, ".tmp/test-reports");
const only = process.argv.includes("--only") ? process.argv[process.argv.indexOf("--only") + 1] : undefined;

const total: TestCounts = { passed: 0, failed: 0, skipped: 0, failures: [] };

function step(name: string, argv: string[], env: NodeJS.ProcessEnv = {}): number {
  const started = Date.now();
  console.log(`\n=== ${name}: ${argv.map((a) => a.replace(root, "")).join(" ")}`);
  const r = spawnSync(argv[0] as string, argv.slice(1), { cwd: root, stdio: "inherit", env: { ...process.env, ...env } });
  const code = r.status ?? 128;
  console.log(`=== ${name}: ${code === 0 ? "ok" : `FAILED (exit ${code})`} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return code;
}

/** A whole-tree check counts as one test. */
function check(name: string, argv: string[]): void {
  if (step(name, argv) === 0) total.passed++;
  else {
    total.failed++;
    total.failures.push(name);
  }
}

/** A test run counts its cases from the JUnit report; a run that failed without failing cases counts one failure. */
function suite(name: string, argv: string[], report: string): void {
  rmSync(report, { force: true });
  const code = step(name, argv);
  const counts = existsSync(report) ? countJunit(readFileSync(report, "utf8")) : { passed: 0, failed: 0, skipped: 0, failures: [] };
  total.passed += counts.passed;
  total.failed += counts.failed;
  total.skipped += counts.skipped;
  total.failures.push(...counts.failures.map((f) => `${name}: ${f}`));
  if (code !== 0 && counts.failed === 0) {
    total.failed++;
    total.failures.push(`${name}: exited ${code} without a failing test case (crash or no report)`);
  }
}

mkdirSync(reports, { recursive: true });
if (!only || only === "checks") {
  check("generated code up to date", [bin("bun"), "run", "test/gen-check.ts"]);
  check("types (tsc --noEmit)", [bin("tsc"), "--noEmit", "-p", "."]);
  check("lint (eslint)", [bin("eslint"), "."]);
  check("build dist/mesh", ["npm", "run", "--silent", "compile"]);
}
if (!only || only === "bun") {
  suite("bun test", [bin("bun"), "test", "--timeout=30000", "--reporter=junit", `--reporter-outfile=${join(reports, "bun.xml")}`], join(reports, "bun.xml"));
}
if (!only || only === "deno") {
  suite(
    "deno test (runtime contract)",
    [bin("deno"), "test", "-A", `--junit-path=${join(reports, "deno.xml")}`, "src/runtime/deno.contract.ts"],
    join(reports, "deno.xml"),
  );
  // The whole data path on Deno: control plane, two ztunnels, HBONE, policy (in one process).
  check("deno: mesh demo --check", [bin("deno"), "run", "-A", "--unstable-ffi", "src/main.ts", "demo", "--check"]);
}

if (total.failures.length > 0) {
  console.log("\nFailed:");
  for (const f of total.failures) console.log(`  - ${f}`);
}
console.log(`\n${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
process.exit(total.failed === 0 ? 0 : 1);
