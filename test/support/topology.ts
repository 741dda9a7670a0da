/**
 * A small data centre in network namespaces, for end-to-end tests of the ztunnel:
 *
 *   <p>-lan: bridge br0 ─┬─ <p>-cp      eth0 192.168.77.2/24
 *                        ├─ <p>-node-1  eth0 192.168.77.11/24, ip_forward=1
 *                        │     ├─ veth "sleep"    10.0.1.1/32 ── <p>-sleep    eth0 10.0.1.10/32
 *                        │     └─ veth "notsleep" 10.0.1.1/32 ── <p>-notsleep eth0 10.0.1.11/32
 *                        └─ <p>-node-2  eth0 192.168.77.12/24, ip_forward=1
 *                              └─ veth "productpage" 10.0.2.1/32 ── <p>-productpage eth0 10.0.2.10/32
 *
 * Optionally dual stack: a workload with `ip6` holds it as /128 with a default route via an IPv6
 * gateway (its address with the last group 1, held by the node side of its veth); a node or the
 * control plane with `lanIp6` holds it on the LAN as /64, and remote workloads' /128 are routed
 * via it as for IPv4. IPv6 addresses are added without duplicate address detection (nodad).
 *
 * Invariants:
 * - Names: every namespace is `<prefix>-<label>` with a prefix unique to this build. Interfaces
 *   are created directly inside their namespaces (never in the root namespace), so their short
 *   fixed names (eth0, br0, a workload's or node's label, at most 15 characters) cannot collide
 *   with the host's or another run's.
 * - Routing: a workload holds its address as /32 with a default route via its node's gateway
 *   address (held by the node side of its veth, so REDIRECT in the node has an address to redirect
 *   to). Every packet of a workload — even to a workload on the same node — therefore crosses its
 *   node's PREROUTING, as with a CNI in ambient mode. Nodes and the control plane route every
 *   remote workload /32 via the owning node's LAN address.
 * - Traffic stays inside these namespaces: nothing is connected to the root namespace.
 * - Cleanup: destroy() (and withTopology's finally, and a failed build) kills every process spawned
 *   through the topology (its whole process group) and any other process still inside one of its
 *   namespaces, then deletes every namespace, which removes every interface, route and iptables
 *   rule in it. A process exit hook does the same synchronously as a last resort.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { isIPv4, isIPv6 } from "node:net";
import { killGroup, runOk } from "./command.ts";
import { eventually } from "./eventually.ts";
import type { Netns } from "./netns.ts";

export interface WorkloadSpec {
  /** Label: namespace suffix and the node-side interface name (at most 15 of [a-z0-9-]). */
  readonly name: string;
  readonly ip: string;
  /** An IPv6 address too (dual stack). */
  readonly ip6?: string;
}

export interface NodeSpec {
  readonly name: string;
  readonly lanIp: string;
  /** IPv6 on the LAN (needed to route its workloads' IPv6 addresses from other hosts). */
  readonly lanIp6?: string;
  /** The workloads' gateway address in the node; default: the workloads' /24 with .1. */
  readonly gateway?: string;
  readonly workloads?: readonly WorkloadSpec[];
}

export interface TopologySpec {
  readonly nodes: readonly NodeSpec[];
  /** Default 192.168.77.2. */
  readonly cpLanIp?: string;
  readonly cpLanIp6?: string;
  /** Prefix length of the LAN (default 24); every LAN address must be inside it. */
  readonly lanPrefixLength?: number;
}

export interface Host extends Netns {
  /** The label given in the spec ("cp", "lan", a node's or a workload's name). */
  readonly label: string;
}

export interface LanHost extends Host {
  readonly lanIp: string;
}

export interface NodeHost extends LanHost {
  readonly gateway: string;
  readonly workloads: readonly WorkloadHost[];
}

export interface WorkloadHost extends Host {
  readonly ip: string;
  readonly ip6?: string;
  /** The label of the node it is attached to. */
  readonly node: string;
  /** Its veth's name inside the node namespace. */
  readonly nodeInterface: string;
}

export interface SpawnedProcess {
  readonly proc: ChildProcess;
  readonly pid: number;
  /** Where it runs (a label) and what. */
  readonly where: string;
  readonly argv: readonly string[];
  stdout(): string;
  stderr(): string;
  /** Resolves when it exits (exit code, or signal name). */
  readonly exited: Promise<number | string>;
  /** Wait until stdout (or stderr) matches; fails early when the process exits first. */
  waitForOutput(pattern: RegExp | string, options?: { timeoutMs?: number; stream?: "stdout" | "stderr" }): Promise<string>;
  /** Signal the process group, escalate to SIGKILL after graceMs, resolve when it has exited. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | string>;
}

export interface Topology {
  /** Unique to this build; every namespace name starts with `<prefix>-`. */
  readonly prefix: string;
  readonly lan: Host;
  readonly cp: LanHost;
  readonly nodes: readonly NodeHost[];
  readonly workloads: readonly WorkloadHost[];
  node(name: string): NodeHost;
  workload(name: string): WorkloadHost;
  /** Any host by label ("lan", "cp", a node, a workload). */
  host(label: string): Host;
  /** Every namespace name of this topology. */
  namespaces(): readonly string[];
  /** Run argv inside a host's namespace (`ip netns exec`), output captured, in its own process group. */
  spawn(where: string | Host, argv: readonly string[], env?: NodeJS.ProcessEnv): SpawnedProcess;
  /** Kill every process, delete every namespace. Idempotent; never leaves anything on failure of one step. */
  destroy(): Promise<void>;
}

const LABEL = /^[a-z0-9][a-z0-9-]{0,14}$/;
const RESERVED = new Set(["lan", "cp", "eth0", "br0", "lo"]);

/** Live topologies, for the exit hook. */
const live = new Set<{ processes: Set<SpawnedProcess>; namespaces: string[] }>();
let exitHook = false;

function installExitHook(): void {
  if (exitHook) return;
  exitHook = true;
  process.once("exit", () => {
    for (const t of live) {
      for (const p of t.processes) killGroup(p.pid);
      for (const ns of [...t.namespaces].reverse()) spawnSync("ip", ["netns", "del", ns], { stdio: "ignore" });
    }
  });
}

function check(ok: boolean, message: string): void {
  if (!ok) throw new Error(`topology: ${message}`);
}

function validate(spec: TopologySpec): void {
  const labels = new Set<string>();
  const ips = new Set<string>();
  const label = (name: string) => {
    check(LABEL.test(name) && !RESERVED.has(name), `bad name ${JSON.stringify(name)} (1-15 of [a-z0-9-], not ${[...RESERVED].join("/")})`);
    check(!labels.has(name), `name ${name} used twice`);
    labels.add(name);
  };
  const ip = (addr: string, what: string) => {
    check(isIPv4(addr), `${what}: not an IPv4 address: ${addr}`);
    check(!ips.has(addr), `${what}: address ${addr} used twice`);
    ips.add(addr);
  };
  const ip6 = (addr: string | undefined, what: string) => {
    if (addr === undefined) return;
    check(isIPv6(addr), `${what}: not an IPv6 address: ${addr}`);
    check(!ips.has(addr), `${what}: address ${addr} used twice`);
    ips.add(addr);
  };
  ip(spec.cpLanIp ?? "192.168.77.2", "cp");
  ip6(spec.cpLanIp6, "cp");
  check(spec.nodes.length > 0, "no nodes");
  for (const n of spec.nodes) {
    label(n.name);
    ip(n.lanIp, n.name);
    ip6(n.lanIp6, n.name);
    for (const w of n.workloads ?? []) {
      label(w.name);
      ip(w.ip, w.name);
      ip6(w.ip6, w.name);
    }
  }
}

function defaultGateway(node: NodeSpec): string {
  const first = node.workloads?.[0];
  if (node.gateway) return node.gateway;
  if (!first) return "";
  return first.ip.split(".").slice(0, 3).concat("1").join(".");
}

/** The IPv6 gateway of a workload address: the address with its last group 1 (fd00:1::10 → fd00:1::1). */
function gateway6(ip6: string): string {
  return ip6.replace(/[0-9a-f]+$/i, "1");
}

let builds = 0;

function uniquePrefix(): string {
  const existing = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout ?? "";
  for (;;) {
    const prefix = `tp${(builds++ % 36).toString(36)}${randomBytes(3).toString("hex")}`;
    if (!existing.split("\n").some((l) => l.startsWith(`${prefix}-`))) return prefix;
  }
}

/** Build the namespaces, links, addresses and routes; on any failure everything created is removed. */
export async function buildTopology(spec: TopologySpec): Promise<Topology> {
  validate(spec);
  installExitHook();
  const prefix = uniquePrefix();
  const lanPrefixLength = spec.lanPrefixLength ?? 24;
  const state = { processes: new Set<SpawnedProcess>(), namespaces: [] as string[] };
  live.add(state);
  const hosts = new Map<string, Host>();

  const makeHost = async (label: string): Promise<Host> => {
    const name = `${prefix}-${label}`;
    await runOk(["ip", "netns", "add", name]);
    state.namespaces.push(name);
    await runOk(["ip", "-n", name, "link", "set", "lo", "up"]);
    const host: Host = {
      label,
      name,
      exec: (argv) => ["ip", "netns", "exec", name, ...argv],
      sh: (script) => runOk(["ip", "netns", "exec", name, "sh", "-ec", script]),
    };
    hosts.set(label, host);
    return host;
  };

  let destroyed: Promise<void> | null = null;
  const destroy = (): Promise<void> => {
    destroyed ??= destroyState(state).finally(() => live.delete(state));
    return destroyed;
  };

  try {
    const lan = await makeHost("lan");
    await runOk(["ip", "-n", lan.name, "link", "add", "br0", "type", "bridge"]);
    await runOk(["ip", "-n", lan.name, "link", "set", "br0", "up"]);

    const attachToLan = async (host: Host, lanIp: string, lanIp6: string | undefined) => {
      await runOk(["ip", "link", "add", "eth0", "netns", host.name, "type", "veth", "peer", "name", host.label, "netns", lan.name]);
      await runOk(["ip", "-n", lan.name, "link", "set", host.label, "master", "br0", "up"]);
      await runOk(["ip", "-n", host.name, "addr", "add", `${lanIp}/${lanPrefixLength}`, "dev", "eth0"]);
      if (lanIp6) await runOk(["ip", "-n", host.name, "-6", "addr", "add", `${lanIp6}/64`, "dev", "eth0", "nodad"]);
      await runOk(["ip", "-n", host.name, "link", "set", "eth0", "up"]);
    };

    const cpHost = await makeHost("cp");
    const cpLanIp = spec.cpLanIp ?? "192.168.77.2";
    await attachToLan(cpHost, cpLanIp, spec.cpLanIp6);
    const cp: LanHost = { ...cpHost, lanIp: cpLanIp };

    const nodes: NodeHost[] = [];
    const workloads: WorkloadHost[] = [];
    for (const n of spec.nodes) {
      const host = await makeHost(n.name);
      await attachToLan(host, n.lanIp, n.lanIp6);
      await runOk(host.exec(["sysctl", "-qw", "net.ipv4.ip_forward=1"]));
      if ((n.workloads ?? []).some((w) => w.ip6)) await runOk(host.exec(["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"]));
      const gateway = defaultGateway(n);
      const attached: WorkloadHost[] = [];
      for (const w of n.workloads ?? []) {
        const wl = await makeHost(w.name);
        // The node side is named after the workload: `ip -n node-1 link` reads like a pod list.
        await runOk(["ip", "link", "add", "eth0", "netns", wl.name, "type", "veth", "peer", "name", w.name, "netns", host.name]);
        await runOk(["ip", "-n", host.name, "addr", "add", `${gateway}/32`, "dev", w.name]);
        await runOk(["ip", "-n", host.name, "link", "set", w.name, "up"]);
        await runOk(["ip", "-n", host.name, "route", "add", `${w.ip}/32`, "dev", w.name]);
        await runOk(["ip", "-n", wl.name, "addr", "add", `${w.ip}/32`, "dev", "eth0"]);
        await runOk(["ip", "-n", wl.name, "link", "set", "eth0", "up"]);
        await runOk(["ip", "-n", wl.name, "route", "add", gateway, "dev", "eth0", "scope", "link"]);
        await runOk(["ip", "-n", wl.name, "route", "add", "default", "via", gateway, "dev", "eth0"]);
        if (w.ip6) {
          const gw6 = gateway6(w.ip6);
          await runOk(["ip", "-n", host.name, "-6", "addr", "add", `${gw6}/128`, "dev", w.name, "nodad"]);
          await runOk(["ip", "-n", host.name, "-6", "route", "add", `${w.ip6}/128`, "dev", w.name]);
          await runOk(["ip", "-n", wl.name, "-6", "addr", "add", `${w.ip6}/128`, "dev", "eth0", "nodad"]);
          await runOk(["ip", "-n", wl.name, "-6", "route", "add", gw6, "dev", "eth0"]);
          await runOk(["ip", "-n", wl.name, "-6", "route", "add", "default", "via", gw6, "dev", "eth0"]);
        }
        attached.push({ ...wl, ip: w.ip, ...(w.ip6 ? { ip6: w.ip6 } : {}), node: n.name, nodeInterface: w.name });
      }
      workloads.push(...attached);
      nodes.push({ ...host, lanIp: n.lanIp, gateway, workloads: attached });
    }

    // Remote workloads through their node's LAN address, from every other node and the control plane.
    for (const from of [cp, ...nodes]) {
      for (const to of nodes) {
        if (to.label === from.label) continue;
        for (const w of to.workloads) await runOk(["ip", "-n", from.name, "route", "add", `${w.ip}/32`, "via", to.lanIp]);
        const toLan6 = spec.nodes.find((n) => n.name === to.label)?.lanIp6;
        const fromLan6 = from === cp ? spec.cpLanIp6 : spec.nodes.find((n) => n.name === from.label)?.lanIp6;
        if (!toLan6 || !fromLan6) continue;
        for (const w of to.workloads) if (w.ip6) await runOk(["ip", "-n", from.name, "-6", "route", "add", `${w.ip6}/128`, "via", toLan6]);
      }
    }

    const find = <T extends Host>(list: readonly T[], label: string, what: string): T => {
      const hit = list.find((h) => h.label === label);
      if (!hit) throw new Error(`topology: no ${what} ${label} (have ${list.map((h) => h.label).join(", ")})`);
      return hit;
    };
    const host = (label: string): Host => {
      const hit = hosts.get(label);
      if (!hit) throw new Error(`topology: no host ${label} (have ${[...hosts.keys()].join(", ")})`);
      return hit;
    };

    return {
      prefix,
      lan,
      cp,
      nodes,
      workloads,
      node: (name) => find(nodes, name, "node"),
      workload: (name) => find(workloads, name, "workload"),
      host,
      namespaces: () => [...state.namespaces],
      spawn: (where, argv, env) => {
        if (destroyed) throw new Error("topology: destroyed");
        const h = typeof where === "string" ? host(where) : where;
        const p = spawnIn(h, argv, env);
        state.processes.add(p);
        void p.exited.then(() => state.processes.delete(p));
        return p;
      },
      destroy,
    };
  } catch (err) {
    await destroy().catch((cleanupErr) => console.error(`topology cleanup after a failed build: ${cleanupErr}`));
    throw err;
  }
}

/** Build, run fn, destroy — also when fn throws. */
export async function withTopology<T>(spec: TopologySpec, fn: (t: Topology) => Promise<T>): Promise<T> {
  const t = await buildTopology(spec);
  try {
    return await fn(t);
  } finally {
    await t.destroy();
  }
}

/** The topology of the ambient seed article: sleep and notsleep on node-1, productpage on node-2. */
export const SEED_TOPOLOGY: TopologySpec = {
  cpLanIp: "192.168.77.2",
  nodes: [
    {
      name: "node-1",
      lanIp: "192.168.77.11",
      workloads: [
        { name: "sleep", ip: "10.0.1.10" },
        { name: "notsleep", ip: "10.0.1.11" },
      ],
    },
    { name: "node-2", lanIp: "192.168.77.12", workloads: [{ name: "productpage", ip: "10.0.2.10" }] },
  ],
};

function spawnIn(host: Host, argv: readonly string[], env?: NodeJS.ProcessEnv): SpawnedProcess {
  if (argv.length === 0) throw new Error("topology: spawn of an empty command");
  const proc = spawn("ip", ["netns", "exec", host.name, ...argv], {
    // Its own process group: stop() and destroy() kill it with everything it started.
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  if (proc.pid === undefined) throw new Error(`topology: could not spawn ${argv.join(" ")}`);
  const pid = proc.pid;
  let stdout = "";
  let stderr = "";
  proc.stdout?.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  proc.stderr?.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const exited = new Promise<number | string>((resolve) => {
    proc.once("error", () => resolve("spawn-error"));
    proc.once("close", (code, signal) => resolve(code ?? signal ?? "unknown"));
  });
  let done = false;
  void exited.then(() => (done = true));
  const where = host.label;
  return {
    proc,
    pid,
    where,
    argv,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    waitForOutput: (pattern, options = {}) =>
      eventually(
        () => {
          const text = options.stream === "stderr" ? stderr : stdout;
          const hit = typeof pattern === "string" ? text.includes(pattern) : pattern.test(text);
          if (hit) return text;
          if (done) throw new Error(`${argv.join(" ")} in ${where} exited before printing ${pattern}; stderr: ${stderr.slice(-2000)}`);
          throw new Error(`no ${pattern} yet in ${options.stream ?? "stdout"} of ${argv.join(" ")} in ${where}`);
        },
        { timeoutMs: options.timeoutMs ?? 10_000, what: String(pattern) },
      ),
    stop: async (signal = "SIGTERM", graceMs = 5000) => {
      if (!done) {
        try {
          process.kill(-pid, signal);
        } catch {
          // already gone
        }
        const timer = setTimeout(() => killGroup(pid), graceMs);
        try {
          return await exited;
        } finally {
          clearTimeout(timer);
        }
      }
      return exited;
    },
  };
}

async function destroyState(state: { processes: Set<SpawnedProcess>; namespaces: string[] }): Promise<void> {
  const failures: string[] = [];
  // Processes first: a namespace lives on while a process is inside it, even after `ip netns del`.
  // Bounded: a descendant that left the process group may hold a pipe open; `ip netns pids` gets it below.
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    Promise.all([...state.processes].map((p) => p.stop("SIGKILL", 0))),
    new Promise((resolve) => (timer = setTimeout(resolve, 5000))),
  ]);
  clearTimeout(timer);
  for (const ns of [...state.namespaces].reverse()) {
    try {
      // Whatever else runs inside (a command a test started with ns.exec) goes too.
      const pids = (await runOk(["ip", "netns", "pids", ns])).split(/\s+/).filter(Boolean).map(Number);
      for (const pid of pids) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    } catch (err) {
      failures.push(String(err));
    }
    try {
      await runOk(["ip", "netns", "del", ns]);
      state.namespaces.splice(state.namespaces.indexOf(ns), 1);
    } catch (err) {
      failures.push(String(err));
    }
  }
  if (failures.length > 0) throw new Error(`topology cleanup: ${failures.join("; ")}`);
}
