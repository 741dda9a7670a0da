/** What the figures were measured on: CPU, cores, kernel, runtime and tool versions, date. */
import { spawnSync } from "node:child_process";
import os from "node:os";

export interface MachineInfo {
  readonly date: string;
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly kernel: string;
  readonly arch: string;
  readonly loadAverage: readonly number[];
  readonly runtime: Record<string, string>;
  readonly tools: Record<string, string>;
}

/** How to ask each tool for its version; the first output line with a dotted number is kept. */
const VERSION_ARGS: Record<string, readonly string[]> = {
  iperf3: ["--version"],
  wrk: ["-v"],
  stunnel: ["-version"],
  nginx: ["-v"],
  openssl: ["version"],
  haproxy: ["-v"],
  h2load: ["--version"],
  node: ["--version"],
  deno: ["--version"],
};

export function toolVersion(tool: string): string {
  const r = spawnSync(tool, [...(VERSION_ARGS[tool] ?? ["--version"])], { encoding: "utf8", timeout: 5000 });
  if (r.error) return "not found";
  const lines = `${r.stdout ?? ""}\n${r.stderr ?? ""}`.split("\n").map((l) => l.trim());
  return lines.find((l) => /\d+\.\d+/.test(l)) ?? lines.find((l) => l !== "") ?? "unknown";
}

export function machineInfo(tools: readonly string[]): MachineInfo {
  const cpus = os.cpus();
  const runtime: Record<string, string> = {};
  const bun = process.versions.bun;
  if (bun) runtime.bun = bun;
  runtime["node-compat (process.versions.node)"] = process.versions.node ?? "unknown";
  runtime["node (on PATH)"] = toolVersion("node");
  return {
    date: new Date().toISOString(),
    cpuModel: cpus[0]?.model ?? "unknown",
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: `${os.type()} ${os.release()}`,
    arch: os.arch(),
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
    runtime,
    tools: Object.fromEntries([...new Set(tools)].sort().map((t) => [t, toolVersion(t)])),
  };
}
