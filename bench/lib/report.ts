/**
 * Presenting a scenario's result: a console table, bench/results/<scenario>.json (everything,
 * including machine info) and bench/results/<scenario>.md (the same table for humans). The tables
 * have one line per metric and one column per path, each cell "value (ratio×)".
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { MachineInfo } from "./machine.ts";
import type { RatedRow } from "./rows.ts";

export interface ScenarioReport {
  readonly scenario: string;
  readonly description: string;
  readonly command: string;
  readonly durationSec: number;
  readonly repeat: number;
  readonly baseline: string;
  /** Per path, its own baseline when that is not `baseline`. */
  readonly baselines?: Readonly<Record<string, string>>;
  readonly paths: readonly string[];
  readonly params: Record<string, unknown>;
  readonly machine: MachineInfo;
  readonly elapsedSec: number;
  /** Other work on the machine skews figures: the 1/5/15-minute load averages when the run ended. */
  readonly loadAverageAfter: readonly number[];
  readonly rows: readonly RatedRow[];
  /** Replaces "N s per load" (scenarios whose loads --duration does not time). */
  readonly loadNote?: string;
  /** Replaces "Ratios are against <baseline> measured in the same run". */
  readonly ratioNote?: string;
  /** Paragraphs after the table. */
  readonly notes?: readonly string[];
}

export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a === 0) return "0";
  if (a >= 1000) return v.toFixed(0);
  if (a >= 100) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  return v.toPrecision(3);
}

function cell(row: RatedRow | undefined, baseline: string): string {
  if (!row) return "—";
  const value = formatNumber(row.value);
  if (row.path === baseline || row.ratio === null) return value;
  return `${value} (${row.ratio.toFixed(2)}×)`;
}

/** Header and body cells: metric, unit, then one column per path. */
function grid(report: ScenarioReport): string[][] {
  const metrics: { metric: string; unit: string }[] = [];
  for (const r of report.rows) if (!metrics.some((m) => m.metric === r.metric)) metrics.push({ metric: r.metric, unit: r.unit });
  const isBaseline = (p: string): boolean => p === report.baseline || report.baselines?.[p] === p;
  const header = ["metric", "unit", ...report.paths.map((p) => (isBaseline(p) ? `${p} (baseline)` : p))];
  const body = metrics.map(({ metric, unit }) => [
    metric,
    unit,
    ...report.paths.map((p) => cell(report.rows.find((r) => r.path === p && r.metric === metric), report.baseline)),
  ]);
  return [header, ...body];
}

export function textTable(report: ScenarioReport): string {
  const rows = grid(report);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]): string => r.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  const [header, ...body] = rows;
  return [line(header!), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n");
}

function baselineText(report: ScenarioReport): string {
  const others = [...new Set(Object.values(report.baselines ?? {}))].filter((b) => b !== report.baseline && report.paths.includes(b));
  if (others.length === 0) return `\`${report.baseline}\``;
  return [report.baseline, ...others].map((b) => `\`${b}\` (for ${report.paths.filter((p) => (report.baselines?.[p] ?? report.baseline) === b && p !== b).map((p) => `\`${p}\``).join(", ") || "itself"})`).join(" and ");
}

export function markdown(report: ScenarioReport): string {
  const [header, ...body] = grid(report);
  const m = report.machine;
  const tools = Object.entries(m.tools).map(([t, v]) => `${t}: ${v}`).join("; ");
  const runtime = Object.entries(m.runtime).map(([t, v]) => `${t} ${v}`).join(", ");
  return [
    `# ${report.scenario}`,
    "",
    report.description,
    "",
    `Command: \`${report.command}\` — ${report.loadNote ?? `${report.durationSec} s per load`}, ${report.repeat} run(s), median shown. ` +
      (report.ratioNote ?? `Ratios are against ${baselineText(report)} measured in the same run.`),
    "",
    `| ${header!.join(" | ")} |`,
    `|${header!.map((_, i) => (i < 2 ? " --- " : " ---: ")).join("|")}|`,
    ...body.map((r) => `| ${r.join(" | ")} |`),
    "",
    ...(report.notes ?? []).flatMap((n) => [n, ""]),
    `Machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.kernel} (${m.arch}); load average at start ${m.loadAverage.join(" ")}, at end ${report.loadAverageAfter.join(" ")}. ` +
      `Runtime: ${runtime}. Date: ${m.date}.`,
    "",
    `Tools: ${tools}.`,
    "",
    `Parameters: \`${JSON.stringify(report.params)}\``,
    "",
  ].join("\n");
}

/** Write <dir>/<scenario>.json and .md; returns their paths. */
export function writeReport(dir: string, report: ScenarioReport): { json: string; md: string } {
  mkdirSync(dir, { recursive: true });
  const json = join(dir, `${report.scenario}.json`);
  const md = join(dir, `${report.scenario}.md`);
  writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(md, markdown(report));
  return { json, md };
}
