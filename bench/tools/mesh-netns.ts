/**
 * The mesh on the netns testbed, as operators run it (and as test/e2e/ztunnel-netns.test.ts does):
 * `dist/mesh control-plane` in the cp namespace, the bookinfo fixture applied through the CLI,
 * one node token per node, and `dist/mesh ztunnel --capture iptables` in node-1 and node-2, ready
 * once /healthz/ready answers 200 and the capture chain is in the node's nat table.
 *
 * Every process goes through startDaemon (own process group, killed on every exit path); the
 * iptables rules live in the node namespaces, so they go with the testbed at the latest (the
 * ztunnel also removes them itself on SIGTERM). Every wait has a deadline.
 */
import { readdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pollUntil } from "../lib/poll.ts";
import { runBounded, runOk, startDaemon, type Daemon } from "../lib/process.ts";
import type { Scope } from "../lib/scope.ts";
import type { NetnsTestbed } from "../lib/testbed.ts";
import { MESH_BINARY, parseMetrics, REPO_ROOT } from "./mesh-control-plane.ts";

export const XDS_PORT = 15012;
export const API_PORT = 15014;
const READY_TIMEOUT_MS = 30_000;
const CAPTURE_CHAIN = "MESH_ZTUNNEL_PREROUTING";
export const NODES = ["node-1", "node-2"] as const;
export type NodeName = (typeof NODES)[number];

/** The bookinfo fixture: namespace (ambient), productpage service, sleep/notsleep/productpage workloads, and the policy that lets sleep in. */
export const BOOKINFO_YAML = join(REPO_ROOT, "test", "fixtures", "bookinfo.yaml");

/** The environment without MESH_* settings: the flags are the whole config. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("MESH_")));
}

export interface MeshControlPlane {
  readonly daemon: Daemon;
  readonly apiUrl: string;
  readonly adminTokenFile: string;
  /** `mesh token create --node <node>` into a file; returns its path. */
  nodeToken(node: string): Promise<string>;
}

/** `curl` inside a namespace: status code and body; never throws on HTTP errors. */
export async function curlIn(bed: NetnsTestbed, where: string, url: string): Promise<{ status: number; body: string }> {
  const r = await runBounded(bed.place(where).exec(["curl", "-sS", "--max-time", "2", "-w", "\n%{http_code}", url]), { timeoutMs: 5000 });
  const cut = r.stdout.lastIndexOf("\n");
  return { status: Number(r.stdout.slice(cut + 1)) || 0, body: r.stdout.slice(0, Math.max(0, cut)) };
}

export async function startMeshControlPlane(scope: Scope, bed: NetnsTestbed, dir: string, applyFile = BOOKINFO_YAML): Promise<MeshControlPlane> {
  const cp = bed.place("cp");
  const dataDir = join(dir, "cp-data");
  const apiUrl = `http://${cp.address}:${API_PORT}`;
  const argv = [MESH_BINARY, "control-plane", "--data-dir", dataDir, "--xds-address", `${cp.address}:${XDS_PORT}`, "--api-address", `${cp.address}:${API_PORT}`, "--log-level", "warn"];
  const daemon = await startDaemon(scope, "control-plane", cp.exec(argv), { logPath: join(dir, "control-plane.log"), env: cleanEnv(), cwd: REPO_ROOT });
  const giveUp = () => (daemon.exit() ? `the control plane exited: ${daemon.logTail()}` : null);
  await pollUntil(async () => ((await curlIn(bed, "cp", `${apiUrl}/healthz/ready`)).status === 200 ? true : null), {
    timeoutMs: READY_TIMEOUT_MS,
    what: "the control plane's API",
    giveUp,
    intervalMs: 100,
  });
  const adminTokenFile = join(dataDir, "admin-token");
  await pollUntil(() => (readFileSync(adminTokenFile, "utf8").trim() ? true : null), { timeoutMs: 5000, what: "the admin token file", giveUp });
  const cli = (args: readonly string[]) => runOk(cp.exec([MESH_BINARY, ...args, "--server", apiUrl, "--admin-token-file", adminTokenFile]), 20_000);
  await cli(["apply", "-f", applyFile]);
  return {
    daemon,
    apiUrl,
    adminTokenFile,
    nodeToken: async (node) => {
      const file = join(dir, `${node}.token`);
      writeFileSync(file, (await cli(["token", "create", "--node", node])).trim(), { mode: 0o600 });
      return file;
    },
  };
}

export interface Ztunnel {
  readonly node: string;
  readonly daemon: Daemon;
  /** The ztunnel process itself (found by its executable inside the daemon's process group). */
  pid(): number;
  /** Its Prometheus metrics (port 15020 inside the node namespace). */
  metrics(): Promise<Map<string, number>>;
}

/** The pid in the process group whose executable is dist/mesh (the leader is `ip netns exec`, which execs it, but do not rely on that). */
export function findProcess(pgid: number, executable: string): number | null {
  const want = realpathSync(executable);
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const pgrp = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
      if (pgrp === pgid && realpathSync(`/proc/${entry}/exe`) === want) return Number(entry);
    } catch {
      // exited, or a kernel thread without exe
    }
  }
  return null;
}

export async function startZtunnel(scope: Scope, bed: NetnsTestbed, cp: MeshControlPlane, node: NodeName, dir: string): Promise<Ztunnel> {
  const place = bed.place(node);
  const token = await cp.nodeToken(node);
  const cpAddress = bed.place("cp").address;
  const argv = [
    MESH_BINARY, "ztunnel", "--node", node, "--control-plane", `${cpAddress}:${XDS_PORT}`, "--token-file", token,
    "--capture", "iptables", "--data-dir", join(dir, `${node}-data`), "--no-dns", "--log-level", "warn",
  ];
  const daemon = await startDaemon(scope, `ztunnel-${node}`, place.exec(argv), { logPath: join(dir, `ztunnel-${node}.log`), env: cleanEnv(), cwd: REPO_ROOT });
  let pid: number | null = null;
  const ztunnel: Ztunnel = {
    node,
    daemon,
    pid: () => (pid ??= findProcess(daemon.pid, MESH_BINARY)) ?? daemon.pid,
    metrics: async () => parseMetrics((await curlIn(bed, node, "http://127.0.0.1:15020/metrics")).body),
  };
  return ztunnel;
}

/** Wait until the ztunnel says it is ready and its capture chain is installed. */
export async function waitReady(bed: NetnsTestbed, z: Ztunnel): Promise<void> {
  const giveUp = () => (z.daemon.exit() ? `ztunnel ${z.node} exited: ${z.daemon.logTail()}` : null);
  let last = "";
  await pollUntil(
    async () => {
      const r = await curlIn(bed, z.node, "http://127.0.0.1:15021/healthz/ready");
      last = `${r.status} ${r.body.slice(0, 300)}`;
      return r.status === 200 ? true : null;
    },
    { timeoutMs: READY_TIMEOUT_MS, what: `ztunnel ${z.node} ready (last answer: ${last})`, giveUp, intervalMs: 100 },
  );
  await pollUntil(async () => ((await runOk(bed.place(z.node).exec(["iptables-save", "-t", "nat"]), 5000)).includes(CAPTURE_CHAIN) ? true : null), {
    timeoutMs: 10_000,
    what: `ztunnel ${z.node}'s ${CAPTURE_CHAIN} chain`,
    giveUp,
    intervalMs: 100,
  });
}

/** Sum of a metric's samples whose labels contain every given fragment (e.g. 'reporter="destination"'). */
export function metricSum(metrics: Map<string, number>, name: string, ...fragments: readonly string[]): number {
  let sum = 0;
  for (const [key, value] of metrics) {
    if (key !== name && !key.startsWith(`${name}{`)) continue;
    if (fragments.every((f) => key.includes(f))) sum += value;
  }
  return sum;
}

export interface MeshWaypoint {
  readonly daemon: Daemon;
  /** The waypoint process itself. */
  pid(): number;
  /** Its Prometheus metrics (port 15020 inside its namespace). */
  metrics(): Promise<Map<string, number>>;
}

/**
 * `dist/mesh waypoint` in its replica's own namespace (`where`, a workload of the topology; the
 * replica's WorkloadEntry must name that address and `node`), ready once /healthz/ready answers
 * 200. Access log off (warn): the L7 baselines it is measured against log nothing either.
 */
export async function startMeshWaypoint(scope: Scope, bed: NetnsTestbed, cp: MeshControlPlane, o: { where: string; gateway: string; node: NodeName; dir: string }): Promise<MeshWaypoint> {
  const token = await cp.nodeToken(o.node);
  const argv = [
    MESH_BINARY, "waypoint", "--gateway", o.gateway, "--node", o.node, "--control-plane", `${bed.place("cp").address}:${XDS_PORT}`, "--token-file", token,
    "--data-dir", join(o.dir, "waypoint-data"), "--log-level", "warn",
  ];
  const daemon = await startDaemon(scope, "waypoint", bed.place(o.where).exec(argv), { logPath: join(o.dir, "waypoint.log"), env: cleanEnv(), cwd: REPO_ROOT });
  let last = "";
  await pollUntil(
    async () => {
      const r = await curlIn(bed, o.where, "http://127.0.0.1:15021/healthz/ready");
      last = `${r.status} ${r.body.slice(0, 300)}`;
      return r.status === 200 ? true : null;
    },
    { timeoutMs: READY_TIMEOUT_MS, what: `waypoint ready (last answer: ${last})`, giveUp: () => (daemon.exit() ? `the waypoint exited: ${daemon.logTail()}` : null), intervalMs: 100 },
  );
  let pid: number | null = null;
  return {
    daemon,
    pid: () => (pid ??= findProcess(daemon.pid, MESH_BINARY)) ?? daemon.pid,
    metrics: async () => parseMetrics((await curlIn(bed, o.where, "http://127.0.0.1:15020/metrics")).body),
  };
}
