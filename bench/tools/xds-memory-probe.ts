/**
 * Where the control plane's memory goes, phase by phase: the xds-scale load (same documents, same
 * REST batches, same XdsClients) with /proc/<pid>/status and smaps_rollup read after each step,
 * so a change to the store, the API or the runtime's settings can be judged by its RSS alone.
 *
 *   bun run bench/tools/xds-memory-probe.ts [--workloads N] [--services N] [--policies N]
 *       [--nodes N] [--clients N] [--command "bun src/main.ts"] [--env K=V]... [--settle-ms N] [--signal SIGUSR2]
 *
 * Phases: empty → after each apply → push built → settled → clients connecting (peak sampled every
 * 20 ms) → clients synced → settled with clients → clients gone. The clients run in this process,
 * as in the scenario they run in a process of their own; only the control plane is measured.
 * Prints one line per phase (MiB) and, at the end, the same table as JSON on stdout.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogControl } from "../../src/telemetry/log.ts";
import { XdsClient } from "../../src/xds/client.ts";
import { AUTHORIZATION_TYPE, SERVICE_TYPE, WORKLOAD_TYPE } from "../../src/xds/type-urls.ts";
import { DECODERS } from "../../src/xds/wire.ts";
import { applyBatches } from "../lib/apply-batches.ts";
import { readMemory, type MemoryReading } from "../lib/proc-memory.ts";
import { Scope } from "../lib/scope.ts";
import { expectedPerNode, meshDocs, nodeName, validateShape, type MeshShape } from "../scenarios/xds-scale-config.ts";
import { startControlPlane, type ControlPlane } from "./mesh-control-plane.ts";

interface Args {
  shape: MeshShape;
  clients: number;
  command: string[] | undefined;
  env: Record<string, string>;
  settleMs: number;
  /** Send this signal to the control plane after each settled phase (a diagnostic preload may GC and dump heap stats on it). */
  signal: string | undefined;
}

function parseArgs(argv: readonly string[]): Args {
  const shape = { workloads: 10_000, services: 1000, policies: 1000, nodes: 100, namespaces: 10 };
  const out: Args = { shape, clients: 100, command: undefined, env: {}, settleMs: 3000, signal: undefined };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] as string;
    const value = argv[++i];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === "--command") out.command = value.split(" ").filter((s) => s !== "");
    else if (flag === "--env") {
      const eq = value.indexOf("=");
      out.env[value.slice(0, eq)] = value.slice(eq + 1);
    } else if (flag === "--clients") out.clients = Number(value);
    else if (flag === "--settle-ms") out.settleMs = Number(value);
    else if (flag === "--signal") out.signal = value;
    else if (["--workloads", "--services", "--policies", "--nodes"].includes(flag)) (shape as Record<string, number>)[flag.slice(2)] = Number(value);
    else throw new Error(`unknown flag ${flag}`);
  }
  shape.policies = Math.min(shape.policies, shape.services);
  validateShape(shape);
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitForPush(cp: ControlPlane, revision: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Number(await cp.pushVersion()) < Number(revision)) {
    if (Date.now() > deadline) throw new Error(`push of revision ${revision} not built`);
    await sleep(50);
  }
}

async function mintToken(cp: ControlPlane, node: string): Promise<string> {
  const res = await fetch(`${cp.apiUrl}/api/v1/tokens`, {
    method: "POST",
    headers: { authorization: `Bearer ${cp.adminToken}`, "content-type": "application/json" },
    body: JSON.stringify({ node, ttl: "2h" }),
  });
  if (!res.ok) throw new Error(`token for ${node}: HTTP ${res.status}`);
  return ((await res.json()) as { token: string }).token;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  Object.assign(process.env, args.env);
  const dir = mkdtempSync(join(tmpdir(), "xds-memory-"));
  const scope = new Scope();
  const rows: Array<{ phase: string } & MemoryReading> = [];
  const record = (phase: string, m: MemoryReading) => {
    rows.push({ phase, ...m });
    const f = (x: number) => x.toFixed(0).padStart(5);
    process.stderr.write(`${phase.padEnd(28)} rss ${f(m.rss)}  anon ${f(m.anon)}  file ${f(m.file)}  dirty ${f(m.privateDirty)}  hwm ${f(m.hwm)} MiB\n`);
  };
  try {
    const cp = await startControlPlane(scope, dir, args.command ? { command: args.command } : {});
    const sample = () => readMemory(cp.pid);
    const poke = async (phase: string) => {
      if (!args.signal) return;
      process.kill(cp.pid, args.signal);
      await sleep(2500);
      record(`${phase}, after ${args.signal}`, sample());
    };
    record("empty", sample());
    let revision = "0";
    let batch = 0;
    for (const b of applyBatches(meshDocs(args.shape))) {
      revision = await cp.apply(b.body);
      batch++;
      if (batch === 1 || batch % 4 === 0) record(`after apply ${batch}`, sample());
    }
    record(`after apply ${batch} (last)`, sample());
    await waitForPush(cp, revision);
    record("push built", sample());
    await sleep(args.settleMs);
    record(`settled ${args.settleMs} ms`, sample());
    await poke("settled");

    if (args.clients > 0) {
      const logs = createLogControl({ format: "text", spec: "error" });
      const decoders = Object.fromEntries(([WORKLOAD_TYPE, SERVICE_TYPE, AUTHORIZATION_TYPE] as const).map((t) => [t, DECODERS[t]]));
      const tokens = new Map<number, string>();
      for (let n = 0; n < Math.min(args.shape.nodes, args.clients); n++) tokens.set(n, await mintToken(cp, nodeName(n)));
      let peak = sample();
      const timer = setInterval(() => {
        const m = sample();
        if (m.rss > peak.rss) peak = m;
      }, 20);
      const clients = Array.from({ length: args.clients }, (_, i) => {
        const node = i % args.shape.nodes;
        const expected = expectedPerNode(args.shape, node);
        const client = new XdsClient({
          server: cp.xdsUrl,
          node: nodeName(node),
          role: "ztunnel",
          token: () => tokens.get(node) as string,
          decoders,
          log: logs.logger("xds-client"),
          backoff: { initialMs: 100, maxMs: 1000 },
          userAgent: "mesh-memory-probe",
        });
        const complete = new Promise<void>((resolve) =>
          client.onChange(() => {
            if (
              client.resources(WORKLOAD_TYPE).size >= expected.workloads &&
              client.resources(SERVICE_TYPE).size >= expected.services &&
              client.resources(AUTHORIZATION_TYPE).size >= expected.authorizations
            )
              resolve();
          }),
        );
        return { client, complete };
      });
      const started = performance.now();
      for (const c of clients) c.client.start();
      await Promise.all(clients.map((c) => c.complete));
      clearInterval(timer);
      const syncSec = (performance.now() - started) / 1000;
      record(`peak while ${args.clients} clients sync`, peak);
      record(`${args.clients} synced (${syncSec.toFixed(1)} s)`, sample());
      await sleep(args.settleMs);
      record(`settled with clients`, sample());
      await poke("with clients");
      await Promise.all(clients.map((c) => c.client.stop()));
      await sleep(args.settleMs);
      record("clients gone, settled", sample());
      await poke("clients gone");
    }
    process.stdout.write(`${JSON.stringify({ shape: args.shape, clients: args.clients, env: args.env, command: args.command ?? "dist/mesh", rows })}\n`);
  } finally {
    await scope.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`xds-memory-probe failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
