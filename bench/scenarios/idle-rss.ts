/**
 * Memory per idle connection (the issue's "RSS with 1,000 and 10,000 open connections", target
 * ≤ 20 KB per idle tunnelled connection): on the netns testbed only, a client in sleep opens
 * connections through each path to a server in productpage that answers one byte and holds them
 * (tools/idle-conns.ts); a connection counts once that byte has crossed the whole path. The proxies'
 * VmRSS (/proc/<pid>/status) is read with none open, after each step (--steps, cumulative), and
 * again after all are closed. KB per connection = (RSS at the step − RSS with none) / connections.
 *
 * Bounds: every step is bounded in count (the step) and time (the client's per-connection timeout
 * and its own MAX_SEC; the harness's step deadline). A step that would need more file descriptors
 * than a proxy may open (its RLIMIT_NOFILE) is skipped and reported, not attempted.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { BASELINES, testbedOf } from "../paths/index.ts";
import { measurePaths, type Measurement, type PathSession } from "../paths/measure.ts";
import type { ProxyProcess } from "../paths/path.ts";
import { pollUntil } from "../lib/poll.ts";
import { startDaemon, type Daemon } from "../lib/process.ts";
import { REPO_ROOT } from "../tools/mesh-control-plane.ts";
import type { Row } from "../lib/rows.ts";
import type { Scenario, ScenarioContext } from "./scenario.ts";

const SCRIPT = join(REPO_ROOT, "bench", "tools", "idle-conns.ts");
const TARGET_KB_PER_CONNECTION = 20;
/** Open-file headroom a proxy keeps for listeners, pools, logs. */
const FD_HEADROOM = 256;
/** Seconds allowed per 1,000 connections of a step (plus a base). */
const STEP_SEC_PER_1000 = 15;
const STEP_BASE_SEC = 10;
const PROCESS_MAX_SEC = 300;

function statusKiB(pid: number, field: string): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** The soft RLIMIT_NOFILE of a process. */
function openFileLimit(pid: number): number {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync(`/proc/${pid}/limits`, "utf8"));
    return !m || m[1] === "unlimited" ? Infinity : Number(m[1]);
  } catch {
    return NaN;
  }
}

function openFiles(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return NaN;
  }
}

function rssKiB(proxies: readonly ProxyProcess[]): number[] {
  return proxies.map((p) => statusKiB(p.pid(), "VmRSS"));
}

/** Wait for a new "prefix …" line in the daemon's log (the idle-conns tools report that way). */
async function nextLine(d: Daemon, prefix: string, seen: number, timeoutMs: number): Promise<string> {
  const line = (): string | null => readFileSync(d.logPath, "utf8").split("\n").filter((l) => l.startsWith(prefix))[seen] ?? null;
  return pollUntil(line, {
    timeoutMs,
    what: `"${prefix}" from ${d.name}`,
    giveUp: () => (d.exit() && line() === null ? `${d.name} exited: ${d.logTail()}` : null),
    intervalMs: 50,
  });
}

async function measureIdle(ctx: ScenarioContext, session: PathSession, steps: readonly number[]): Promise<Measurement[]> {
  const out: Measurement[] = [];
  const target = session.client.target(session.address);
  const client = await startDaemon(ctx.scope, `idle-client-${session.path}`, session.client.exec([process.execPath, "run", SCRIPT, "client", target.host, String(target.port), String(PROCESS_MAX_SEC)]), {
    logPath: join(ctx.tmpDir, `idle-client-${session.path}.log`),
    stdin: "pipe",
    cwd: REPO_ROOT,
  });
  await nextLine(client, "ready", 0, 15_000);
  const sides = session.proxies;
  const before = rssKiB(sides);
  const filesBefore = sides.map((p) => openFiles(p.pid()));
  let held = 0;
  for (const [i, step] of steps.entries()) {
    const fdsNeeded = Math.max(0, ...sides.map((p) => step * p.fdsPerConnection + FD_HEADROOM - openFileLimit(p.pid())));
    if (fdsNeeded > 0) {
      ctx.log(`${session.path}: skipping ${step} connections: a proxy would need ${fdsNeeded} more open files than its limit`);
      continue;
    }
    const timeoutMs = (STEP_BASE_SEC + (STEP_SEC_PER_1000 * step) / 1000) * 1000;
    client.write(`open ${step}\n`);
    const line = await nextLine(client, "held ", i, timeoutMs);
    const m = /^held (\d+) failed (\d+) ms (\d+)/.exec(line);
    if (!m) throw new Error(`idle client: unexpected "${line}"`);
    held = Number(m[1]);
    const failed = Number(m[2]);
    if (held < step) throw new Error(`${session.path}: only ${held} of ${step} connections open (${failed} failed)`);
    const now = rssKiB(sides);
    ctx.log(`${session.path}: ${held} held (${failed} failed so far) in ${m[3]} ms; RSS ${now.map((k) => `${(k / 1024).toFixed(1)} MiB`).join(", ")}`);
    out.push({ metric: `${step} open: time to open them`, value: Number(m[3]) / 1000, unit: "s" });
    for (const [j, p] of sides.entries()) {
      out.push({ metric: `${step} open: ${p.side}-side proxy RSS`, value: (now[j] as number) / 1024, unit: "MiB" });
      out.push({ metric: `${step} open: ${p.side}-side proxy KB per connection`, value: (((now[j] as number) - (before[j] as number)) * 1.024) / step, unit: "KB" });
    }
    if (sides.length > 0) {
      const total = now.reduce((a, b) => a + b, 0) - before.reduce((a, b) => a + b, 0);
      out.push({ metric: `${step} open: both proxies KB per connection`, value: (total * 1.024) / step, unit: "KB" });
    }
  }
  client.write("close\n");
  await nextLine(client, "closed", 0, 15_000);
  await client.stop();
  for (const [j, p] of sides.entries()) {
    out.push({ metric: `none open: ${p.side}-side proxy RSS before`, value: (before[j] as number) / 1024, unit: "MiB" });
  }
  if (sides.length > 0 && held > 0) {
    // The proxies close their sides asynchronously: read once they hold no more files than before (or after 10 s).
    await pollUntil(() => (sides.every((p, j) => openFiles(p.pid()) <= (filesBefore[j] as number) + 8) ? true : null), { timeoutMs: 10_000, what: "the proxies to close their sockets (pooled tunnels may stay)" }).catch(
      (err: unknown) => ctx.log(`${session.path}: ${String(err)}: open files before ${filesBefore.join(", ")}, now ${sides.map((p) => openFiles(p.pid())).join(", ")}`),
    );
    for (const [j, p] of sides.entries()) out.push({ metric: `all closed: ${p.side}-side proxy open files left`, value: openFiles(p.pid()) - (filesBefore[j] as number), unit: "count" });
    const after = rssKiB(sides);
    for (const [j, p] of sides.entries()) out.push({ metric: `all closed: ${p.side}-side proxy RSS after`, value: (after[j] as number) / 1024, unit: "MiB" });
  }
  return out;
}

export const idleRss: Scenario = {
  name: "idle-rss",
  description: `Idle connections held open through each netns path (client in sleep, one-byte-then-silent server in productpage): proxy RSS (VmRSS) with none open and after two cumulative steps (--small 1,000 then --large 10,000), KB per connection per proxy and for both; target ≤ ${TARGET_KB_PER_CONNECTION} KB per idle tunnelled connection. Root only.`,
  tools: ["ip"],
  options: [
    { name: "small", description: "connections in the first step", default: 1000, min: 10, max: 12_000 },
    { name: "large", description: "connections in the second step (cumulative)", default: 10_000, min: 10, max: 12_000 },
  ],
  async run(ctx) {
    const steps = [ctx.options.small as number, ctx.options.large as number].filter((n, i, a) => i === 0 || n > (a[0] as number));
    const paths = ctx.paths.filter((p) => testbedOf(p) === "netns");
    if (paths.length === 0) throw new Error("idle-rss runs on the netns testbed only, and no netns path can run here (root needed)");
    const netnsCtx: ScenarioContext = { ...ctx, paths };
    const rows = await measurePaths(
      netnsCtx,
      async (bed, scope, dir) => {
        const endpoint = await bed.server.freePort();
        const d = await startDaemon(scope, "idle-server", bed.server.exec([process.execPath, "run", SCRIPT, "server", endpoint.host, String(endpoint.port), String(PROCESS_MAX_SEC)]), {
          logPath: join(dir, "idle-server.log"),
          cwd: REPO_ROOT,
        });
        await nextLine(d, "listening", 0, 15_000);
        return endpoint;
      },
      (session) => measureIdle(ctx, session, steps),
    );
    const names = paths.map((p) => p.name);
    const stunnel = names.find((n) => n.includes("stunnel"));
    const baseline = BASELINES.netns;
    // Memory is compared with the stunnel pair (the direct path has no proxy to weigh).
    const baselines = Object.fromEntries(names.map((n) => [n, n === baseline || !stunnel || n === stunnel ? baseline : stunnel]));
    return {
      baseline,
      baselines,
      columns: names,
      rows,
      ratioNote: stunnel
        ? `Ratios are against \`${stunnel}\` (the sidecar-style pair) measured in the same run; ${baseline} has no proxy, its rows show what the client and server alone see.`
        : `Ratios are against \`${baseline}\` measured in the same run.`,
      notes: [
        `Each connection is a TCP connection from sleep (10.0.1.10) to productpage (10.0.2.10): through the ztunnels it is one captured socket in node-1's ztunnel, one HTTP/2 CONNECT stream on a pooled HBONE connection (≤ 100 streams each), and one upstream socket in node-2's ztunnel; through stunnel it is two sockets and one thread in each stunnel. RSS is the whole process's (VmRSS): it includes allocator and garbage-collector slack, so KB per connection is an upper bound on what a connection keeps alive, and the "all closed" rows show how much is given back.`,
      ],
      conclude: (merged) => idleKbVerdict(merged, steps),
      loadNote: `steps ${steps.join(", ")} (cumulative), idle`,
      params: { steps, targetKbPerConnection: TARGET_KB_PER_CONNECTION, fdHeadroom: FD_HEADROOM, server: "bun idle-conns.ts in productpage", client: "bun idle-conns.ts in sleep, 200 being opened at a time" },
    };
  },
};

/** KB per idle tunnelled connection for both ztunnels against the target, from the rows the report shows. */
export function idleKbVerdict(rows: readonly Row[], steps: readonly number[]): string {
  const lines = steps.map((s) => {
    const v = rows.find((r) => r.path === "ztunnel" && r.metric === `${s} open: both proxies KB per connection`)?.value;
    return v === undefined ? `${s}: not measured` : `${s} connections: ${v.toFixed(1)} KB per connection for both ztunnels (${v <= TARGET_KB_PER_CONNECTION ? "meets" : "misses"} the ${TARGET_KB_PER_CONNECTION} KB target)`;
  });
  return `Result against the issue's target (≤ ${TARGET_KB_PER_CONNECTION} KB per idle tunnelled connection): ${lines.join("; ")}.`;
}
