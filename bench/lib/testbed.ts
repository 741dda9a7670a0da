/**
 * Testbeds: where a scenario's backend and load tool run, and so what a path carries traffic over.
 *
 *   loopback  backend and load tool in this namespace on 127.0.0.1 (no root needed).
 *   netns     the end-to-end tests' topology (test/support/topology.ts, SEED_TOPOLOGY): the load
 *             tool in the `sleep` namespace (10.0.1.10, behind node-1), the backend in
 *             `productpage` (10.0.2.10, behind node-2); every packet is routed through both node
 *             namespaces and the LAN bridge between them, as in a cluster. Root only. One more
 *             namespace, `waypoint` (10.0.2.20 behind node-2), idles unless the waypoint path runs
 *             a waypoint replica there (a replica is a workload of its own, never captured).
 *
 * Invariant: a netns testbed is destroyed when the scope that built it closes (or at process exit
 * through the topology's own hook): its processes are killed and its namespaces deleted, which
 * removes every interface, route and iptables rule in them. Nothing is created in the root
 * namespace.
 */
import { spawnSync } from "node:child_process";
import { buildTopology, SEED_TOPOLOGY, type Host, type Topology, type TopologySpec } from "../../test/support/topology.ts";
import { LOOPBACK, namespacePlace, type Place } from "./place.ts";
import type { Scope } from "./scope.ts";

export type TestbedKind = "loopback" | "netns";

export interface Testbed {
  readonly kind: TestbedKind;
  /** Where load tools run. */
  readonly client: Place;
  /** Where backends run. */
  readonly server: Place;
}

export interface NetnsTestbed extends Testbed {
  readonly kind: "netns";
  readonly topology: Topology;
  /** A place for any host of the topology ("cp", "node-1", "node-2", "sleep", "productpage", "waypoint"). */
  place(label: string): Place;
  host(label: string): Host;
}

export const LOOPBACK_TESTBED: Testbed = { kind: "loopback", client: LOOPBACK, server: LOOPBACK };

export const CLIENT_WORKLOAD = "sleep";
export const SERVER_WORKLOAD = "productpage";
export const WAYPOINT_WORKLOAD = { name: "waypoint", ip: "10.0.2.20" } as const;
/**
 * The service VIP the waypoint path declares for the backend (paths/waypoint.ts): the load tool
 * dials it from sleep, node-1's capture takes it; it exists only inside the topology.
 */
export const WAYPOINT_SERVICE_VIP = "10.96.0.99";

/** SEED_TOPOLOGY plus the waypoint replica's namespace behind node-2. */
export const BENCH_TOPOLOGY: TopologySpec = {
  ...SEED_TOPOLOGY,
  nodes: SEED_TOPOLOGY.nodes.map((n) => (n.name === "node-2" ? { ...n, workloads: [...(n.workloads ?? []), WAYPOINT_WORKLOAD] } : n)),
};

/** Every address the topology assigns: LAN addresses, node gateways, workload addresses. */
export function topologyAddresses(spec: TopologySpec): Set<string> {
  const out = new Set<string>([spec.cpLanIp ?? "192.168.77.2"]);
  for (const n of spec.nodes) {
    out.add(n.lanIp);
    for (const w of n.workloads ?? []) {
      out.add(w.ip);
      out.add(n.gateway ?? w.ip.split(".").slice(0, 3).concat("1").join("."));
    }
  }
  return out;
}

/** Why the netns testbed cannot run here, or null. */
export function netnsUnavailable(): string | null {
  if (process.getuid?.() !== 0) return "needs root (network namespaces, iptables)";
  for (const c of ["ip", "iptables", "iptables-save", "curl"]) {
    if (spawnSync("sh", ["-c", `command -v ${c}`], { stdio: "ignore" }).status !== 0) return `needs ${c} on PATH`;
  }
  return null;
}

export async function buildNetnsTestbed(scope: Scope, log: (message: string) => void): Promise<NetnsTestbed> {
  const why = netnsUnavailable();
  if (why) throw new Error(`the netns testbed ${why}`);
  const spec = BENCH_TOPOLOGY;
  const topology = await buildTopology(spec);
  scope.defer(async () => {
    await topology.destroy();
    log(`netns testbed ${topology.prefix}: namespaces deleted`);
  });
  log(`netns testbed ${topology.prefix}: ${topology.namespaces().join(" ")}`);
  const allowed = new Set([...topologyAddresses(spec), WAYPOINT_SERVICE_VIP]);
  const places = new Map<string, Place>();
  const place = (label: string): Place => {
    let p = places.get(label);
    if (!p) {
      const host = topology.host(label);
      const address = label === "cp" ? topology.cp.lanIp : topology.nodes.find((n) => n.label === label)?.lanIp ?? topology.workload(label).ip;
      p = namespacePlace({ name: label, netns: host.name, address, allowed });
      places.set(label, p);
    }
    return p;
  };
  return { kind: "netns", topology, client: place(CLIENT_WORKLOAD), server: place(SERVER_WORKLOAD), place, host: (label) => topology.host(label) };
}
