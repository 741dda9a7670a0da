/**
 * The benchmark harness: bun run bench/run.ts <scenario> [--duration S] [--repeat N] [--paths a,b].
 *
 * Runs one scenario against every selected path, computes each metric's ratio against the
 * baseline path measured in the same run, prints a table and writes bench/results/<scenario>.json
 * and .md. Every child process and temp dir is torn down on every exit path (see lib/exit-hooks.ts).
 * Exit codes: 0 done (or help), 1 the run failed, 2 bad command line or unknown scenario.
 */
import { mkdirSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DEFAULT_DURATION_SEC, parseArgs, resolveOptions, UsageError, type BenchArgs } from "./lib/args.ts";
import { makeCerts, type CertSet } from "./lib/certs.ts";
import { missingCommands } from "./lib/commands.ts";
import { machineInfo } from "./lib/machine.ts";
import { textTable, writeReport } from "./lib/report.ts";
import { medianRows, rate, type Row } from "./lib/rows.ts";
import { withScope } from "./lib/scope.ts";
import { makeTempDir } from "./lib/tempdir.ts";
import { BASELINE_PATH, BASELINES, PATHS, testbedOf } from "./paths/index.ts";
import type { TrafficPath } from "./paths/path.ts";
import { SCENARIOS } from "./scenarios/index.ts";
import type { Scenario, ScenarioOutput } from "./scenarios/scenario.ts";

const RESULTS_DIR = fileURLToPath(new URL("./results/", import.meta.url));

/** Every flag some scenario declares, so the command line can be parsed before the scenario is known. */
const SCENARIO_FLAGS = [...new Set(SCENARIOS.flatMap((s) => (s.options ?? []).map((o) => o.name)))];

function scenarioOptionsHelp(s: Scenario): string[] {
  return (s.options ?? []).map((o) => `      --${`${o.name} N`.padEnd(20)} ${o.description} (default ${o.default}, ${o.min}-${o.max})`);
}

function usage(): string {
  const width = Math.max(...SCENARIOS.map((s) => s.name.length));
  return [
    "usage: bun run bench/run.ts <scenario> [--duration S] [--repeat N] [--paths a,b] [scenario options]",
    "       npm run bench -- <scenario> [options]",
    "",
    "scenarios:",
    ...SCENARIOS.flatMap((s) => [`  ${s.name.padEnd(width)}  ${s.description}`, ...scenarioOptionsHelp(s)]),
    "",
    `paths (each testbed's baseline is always measured: ${Object.entries(BASELINES).map(([t, b]) => `${b} for ${t}`).join(", ")}):`,
    ...PATHS.map((p) => `  ${p.name.padEnd(20)} [${testbedOf(p)}] ${p.description}`),
    "",
    "options:",
    `  --duration S   seconds per load (default ${DEFAULT_DURATION_SEC})`,
    "  --repeat N     run the scenario N times and report medians (default 1)",
    "  --paths a,b    measure only these paths besides their baselines (default: every path that can run here;",
    "                 netns paths need root)",
    "",
    "Results: bench/results/<scenario>.json and .md. Traffic stays on loopback or inside the network",
    "namespaces the run creates (and deletes).",
  ].join("\n");
}

/**
 * The named paths (null: every path available here but the opt-in ones) plus each one's testbed
 * baseline (and the loopback baseline unless `scenarioDefault`: a scenario's own set), in PATHS order.
 */
function selectPaths(names: readonly string[] | null, scenarioDefault = false): TrafficPath[] {
  if (names === null) {
    const skipped = PATHS.filter((p) => p.unavailable?.());
    for (const p of skipped) process.stderr.write(`bench: skipping path ${p.name}: ${p.unavailable?.()}\n`);
    return PATHS.filter((p) => !skipped.includes(p) && !p.optIn);
  }
  const unknown = names.filter((n) => !PATHS.some((p) => p.name === n));
  if (unknown.length > 0) throw new UsageError(`unknown path ${unknown.join(", ")}; known: ${PATHS.map((p) => p.name).join(", ")}`);
  const chosen = PATHS.filter((p) => names.includes(p.name));
  const wanted = new Set([...(scenarioDefault ? [] : [BASELINE_PATH]), ...chosen.map((p) => p.name), ...chosen.map((p) => BASELINES[testbedOf(p)])]);
  const selected = PATHS.filter((p) => wanted.has(p.name));
  for (const p of selected) {
    const why = p.unavailable?.();
    if (why) throw new UsageError(`path ${p.name} cannot run here: ${why}`);
  }
  return selected;
}

async function runScenario(scenario: Scenario, args: BenchArgs, paths: readonly TrafficPath[], options: Readonly<Record<string, number>>): Promise<void> {
  const started = Date.now();
  const log = (message: string): void => void process.stderr.write(`[${scenario.name}] ${message}\n`);
  const tools = [...scenario.tools, ...paths.flatMap((p) => p.tools)];
  const missing = missingCommands(tools);
  if (missing.length > 0) throw new Error(`missing on PATH: ${missing.join(", ")} (Debian: apt-get install -y iperf3 wrk nghttp2-client stunnel4 nginx-light haproxy openssl)`);
  const machine = machineInfo([...tools, "openssl"]);

  let baseline = BASELINE_PATH;
  let baselines: Readonly<Record<string, string>> = {};
  let params: Record<string, unknown> = {};
  let extras: Pick<ScenarioOutput, "columns" | "loadNote" | "ratioNote" | "notes" | "conclude"> = {};
  const runs: Row[][] = [];
  await withScope(async (outer) => {
    const tmp = makeTempDir(outer);
    let certs: Promise<CertSet> | null = null;
    for (let i = 1; i <= args.repeat; i++) {
      if (args.repeat > 1) log(`run ${i} of ${args.repeat}`);
      const tmpDir = join(tmp, `run-${i}`);
      mkdirSync(tmpDir);
      const out = await withScope((scope) =>
        scenario.run({ durationSec: args.durationSec, options, scope, tmpDir, paths, certs: () => (certs ??= makeCerts(tmp)), log }),
      );
      baseline = out.baseline;
      baselines = out.baselines ?? {};
      params = out.params;
      extras = { columns: out.columns, loadNote: out.loadNote, ratioNote: out.ratioNote, notes: out.notes, conclude: out.conclude };
      runs.push([...out.rows]);
    }
  });

  const rows = rate(medianRows(runs), baseline, baselines);
  if (!rows.some((r) => r.path === baseline)) throw new Error(`scenario returned no rows for its baseline path ${baseline}`);
  const notes = [...(extras.notes ?? []), ...(extras.conclude ? [extras.conclude(rows)] : [])];
  const report = {
    scenario: scenario.name,
    description: scenario.description,
    command: ["bun run bench/run.ts", ...process.argv.slice(2)].join(" "),
    durationSec: args.durationSec,
    repeat: args.repeat,
    baseline,
    ...(Object.keys(baselines).length > 0 ? { baselines } : {}),
    paths: extras.columns ? [...extras.columns] : paths.map((p) => p.name),
    params,
    machine,
    elapsedSec: Math.round((Date.now() - started) / 100) / 10,
    loadAverageAfter: loadavg().map((l) => Math.round(l * 100) / 100),
    rows,
    ...(extras.loadNote ? { loadNote: extras.loadNote } : {}),
    ...(extras.ratioNote ? { ratioNote: extras.ratioNote } : {}),
    ...(notes.length > 0 ? { notes } : {}),
  };
  const vs = [...new Set([baseline, ...Object.values(baselines)])].filter((b) => b === baseline || report.paths.includes(b)).join(" / ");
  process.stdout.write(`\n${scenario.name} (${extras.loadNote ?? `${args.durationSec} s per load`}, ratios vs ${vs} per testbed)\n${textTable(report)}\n\n`);
  const files = writeReport(RESULTS_DIR, report);
  process.stdout.write(`wrote ${files.json}\nwrote ${files.md}\n`);
}

async function main(argv: readonly string[]): Promise<number> {
  let args: BenchArgs;
  let paths: TrafficPath[];
  let options: Record<string, number> = {};
  let scenario: Scenario | undefined;
  try {
    args = parseArgs(argv, SCENARIO_FLAGS);
    paths = selectPaths(args.paths);
    scenario = SCENARIOS.find((s) => s.name === args.scenario);
    if (scenario) {
      options = resolveOptions(scenario.name, scenario.options ?? [], args.options);
      if (args.paths === null && scenario.defaultPaths) paths = selectPaths(scenario.defaultPaths, true);
      if (scenario.usesPaths === false) {
        if (args.paths !== null) throw new UsageError(`${scenario.name} carries no traffic over the paths: --paths does not apply`);
        paths = [];
      }
    }
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`bench: ${err.message}\n\n${usage()}\n`);
    return 2;
  }
  if (args.help || args.scenario === null) {
    process.stdout.write(`${usage()}\n`);
    return 0;
  }
  if (!scenario) {
    process.stderr.write(`bench: unknown scenario "${args.scenario}"; known: ${SCENARIOS.map((s) => s.name).join(", ")} (--help lists them)\n`);
    return 2;
  }
  try {
    await runScenario(scenario, args, paths, options);
    return 0;
  } catch (err) {
    process.stderr.write(`bench: ${scenario.name} failed: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
