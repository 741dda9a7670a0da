/**
 * The compiled control plane (`dist/mesh control-plane`) as a benchmark daemon: its own process
 * (so its RSS and CPU are its own), a private data dir, REST API and xDS on loopback ports, and
 * the REST calls a scenario needs (apply, the push pipeline's version, metrics). Every request
 * has a deadline. `npm run compile` builds the binary; a binary older than src/ is reported, as
 * its figures would not describe the current code.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, hostPort, loopback, type Endpoint } from "../lib/net.ts";
import { pollUntil } from "../lib/poll.ts";
import { groupCpuSeconds } from "../lib/cpu.ts";
import { runOk, startDaemon, type Daemon } from "../lib/process.ts";
import type { Scope } from "../lib/scope.ts";

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const MESH_BINARY = join(REPO_ROOT, "dist", "mesh");

export interface MeshBinaryInfo {
  readonly path: string;
  readonly version: string;
  readonly builtAt: string;
  /** src/ files modified after the binary was built (empty: up to date). */
  readonly newerSources: readonly string[];
  /** Whether src/ had uncommitted changes when the benchmark ran (the binary may include them). */
  readonly srcDirty: boolean | "unknown";
}

function newerFiles(dir: string, than: number, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newerFiles(path, than, out);
    else if (entry.name.endsWith(".ts") && statSync(path).mtimeMs > than) out.push(path.slice(REPO_ROOT.length));
  }
  return out;
}

export async function meshBinaryInfo(): Promise<MeshBinaryInfo> {
  if (!existsSync(MESH_BINARY)) throw new Error(`${MESH_BINARY} not found: run \`npm run compile\` first`);
  const built = statSync(MESH_BINARY).mtimeMs;
  const version = (await runOk([MESH_BINARY, "version"], 10_000)).trim();
  let srcDirty: boolean | "unknown" = "unknown";
  try {
    srcDirty = (await runOk(["git", "-C", REPO_ROOT, "status", "--porcelain", "--", "src"], 10_000)).trim() !== "";
  } catch {
    // not a git checkout
  }
  return { path: MESH_BINARY, version, builtAt: new Date(built).toISOString(), newerSources: newerFiles(join(REPO_ROOT, "src"), built), srcDirty };
}

export interface ControlPlane {
  readonly daemon: Daemon;
  readonly pid: number;
  readonly api: Endpoint;
  readonly xds: Endpoint;
  readonly apiUrl: string;
  readonly xdsUrl: string;
  readonly adminToken: string;
  /** POST /api/v1/apply; returns the store revision it produced. */
  apply(body: string): Promise<string>;
  /** The store revision the xDS push pipeline last built from. */
  pushVersion(): Promise<string>;
  /** GET /metrics, as sample name{labels} → value. */
  metrics(): Promise<Map<string, number>>;
  /** VmRSS and VmHWM (peak) of the process, MiB. */
  memory(): { rssMiB: number; hwmMiB: number };
  /** CPU seconds used so far (its process group). */
  cpuSeconds(): number;
}

function statusKiB(pid: number, field: string): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN; // exited
  }
}

/** Prometheus text → "name{labels}" → value (comments skipped). */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const cut = line.lastIndexOf(" ");
    out.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return out;
}

export interface ControlPlaneOptions {
  readonly logLevel?: string;
  /** What runs `control-plane …` (default: the compiled binary); e.g. [bun, "--cpu-prof", "src/main.ts"] to profile the source. */
  readonly command?: readonly string[];
}

export async function startControlPlane(scope: Scope, dir: string, options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const api = loopback(await freePort());
  const xds = loopback(await freePort());
  const dataDir = join(dir, "cp-data");
  // No MESH_* settings from the caller's environment: the flags below are the whole config.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("MESH_")));
  const daemon = await startDaemon(
    scope,
    "control-plane",
    [...(options.command ?? [MESH_BINARY]), "control-plane", "--data-dir", dataDir, "--api-address", hostPort(api), "--xds-address", hostPort(xds), "--log-level", options.logLevel ?? "warn"],
    { logPath: join(dir, "control-plane.log"), env, cwd: REPO_ROOT },
  );
  const apiUrl = `http://${hostPort(api)}`;
  const giveUp = () => (daemon.exit() ? `the control plane exited: ${daemon.logTail()}` : null);
  await pollUntil(
    async () => {
      const res = await fetch(`${apiUrl}/healthz/ready`, { signal: AbortSignal.timeout(1000) });
      return res.ok ? true : null;
    },
    { timeoutMs: 20_000, what: `the control plane's API on ${hostPort(api)}`, giveUp },
  );
  const adminToken = await pollUntil(() => {
    try {
      return readFileSync(join(dataDir, "admin-token"), "utf8").trim() || null;
    } catch {
      return null;
    }
  }, { timeoutMs: 5000, what: "the admin token file", giveUp });

  const call = async (path: string, init: RequestInit = {}, timeoutMs = 60_000): Promise<string> => {
    const res = await fetch(`${apiUrl}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${adminToken}`, ...(init.headers ?? {}) },
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${init.method ?? "GET"} ${path}: HTTP ${res.status}: ${text.slice(0, 1000)}`);
    return text;
  };

  return {
    daemon,
    pid: daemon.pid,
    api,
    xds,
    apiUrl,
    xdsUrl: `http://${hostPort(xds)}`,
    adminToken,
    apply: async (body) => {
      const out = JSON.parse(await call("/api/v1/apply", { method: "POST", body, headers: { "content-type": "application/json" } })) as { revision: string };
      return out.revision;
    },
    pushVersion: async () => (JSON.parse(await call("/api/v1/xds/proxies", {}, 10_000)) as { version: string }).version,
    metrics: async () => parseMetrics(await call("/metrics", {}, 10_000)),
    memory: () => ({ rssMiB: statusKiB(daemon.pid, "VmRSS") / 1024, hwmMiB: statusKiB(daemon.pid, "VmHWM") / 1024 }),
    cpuSeconds: () => groupCpuSeconds([daemon.pid]),
  };
}
