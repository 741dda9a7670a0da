/**
 * The mesh: sleep → (iptables REDIRECT in node-1) → ztunnel node-1 :15001 → HBONE (HTTP/2 CONNECT
 * over mutual TLS 1.3 with the workloads' SPIFFE identities) across the LAN → (REDIRECT in node-2)
 * → ztunnel node-2 :15008 → productpage. The load tool dials the backend's own address; capture
 * does the rest, as in Istio ambient mode.
 *
 * Set-up per measurement (bench/tools/mesh-netns.ts): the compiled control plane in the cp
 * namespace with the bookinfo fixture applied (its AuthorizationPolicy included: sleep is allowed,
 * so every connection is also checked against an ALLOW policy), then both ztunnels, ready.
 * After the load, verify() rejects the figures unless node-2's ztunnel counted inbound
 * connections from sleep: a capture that silently let traffic bypass the mesh would otherwise
 * measure netns-direct under another name.
 */
import type { NetnsTestbed } from "../lib/testbed.ts";
import { netnsUnavailable } from "../lib/testbed.ts";
import { meshBinaryInfo } from "../tools/mesh-control-plane.ts";
import { metricSum, NODES, startMeshControlPlane, startZtunnel, waitReady, type Ztunnel } from "../tools/mesh-netns.ts";
import type { PathContext, PathSetup, TrafficPath } from "./path.ts";

const OPENED = "istio_tcp_connections_opened_total";
const FROM_SLEEP = ['reporter="destination"', 'source_workload="sleep"'] as const;

/** The running mesh: a path setup but for the address, which is the backend's own (capture redirects it). */
export interface Mesh extends Omit<PathSetup, "address"> {
  readonly ztunnels: readonly Ztunnel[];
}

/** Start the mesh on the netns testbed: control plane, both ztunnels, ready. */
export async function startMesh(ctx: PathContext): Promise<Mesh> {
  if (ctx.testbed.kind !== "netns") throw new Error("the ztunnel path runs on the netns testbed only");
  const bed = ctx.testbed as NetnsTestbed;
  const binary = await meshBinaryInfo();
  if (binary.newerSources.length > 0) ctx.log(`warning: dist/mesh (${binary.version}) is older than ${binary.newerSources.length} file(s) under src/, e.g. ${binary.newerSources[0]}: run \`npm run compile\``);
  const cp = await startMeshControlPlane(ctx.scope, bed, ctx.dir);
  const ztunnels: Ztunnel[] = [];
  for (const node of NODES) ztunnels.push(await startZtunnel(ctx.scope, bed, cp, node, ctx.dir));
  await Promise.all(ztunnels.map((z) => waitReady(bed, z)));
  const [client, server] = ztunnels as [Ztunnel, Ztunnel];
  ctx.log(`${binary.version}: ztunnel node-1 pid ${client.pid()}, node-2 pid ${server.pid()}`);
  const openedBefore = metricSum(await server.metrics(), OPENED, ...FROM_SLEEP);
  return {
    ztunnels,
    cpuGroups: ztunnels.map((z) => z.daemon.pid),
    proxies: [
      { side: "client", pgid: client.daemon.pid, pid: () => client.pid(), fdsPerConnection: 1 },
      { side: "server", pgid: server.daemon.pid, pid: () => server.pid(), fdsPerConnection: 1 },
    ],
    verify: async () => {
      for (const z of ztunnels) if (z.daemon.exit()) return `ztunnel ${z.node} exited during the load: ${z.daemon.logTail()}`;
      const opened = metricSum(await server.metrics(), OPENED, ...FROM_SLEEP) - openedBefore;
      return opened > 0 ? null : `ztunnel node-2 counted no inbound connection from sleep (${OPENED}): the traffic bypassed the mesh`;
    },
  };
}

export const ztunnel: TrafficPath = {
  name: "ztunnel",
  description: "sleep → ztunnel node-1 → HBONE (mTLS 1.3, HTTP/2 CONNECT) → ztunnel node-2 → productpage, iptables capture, dist/mesh",
  tools: ["ip", "iptables", "iptables-save", "curl"],
  testbed: "netns",
  unavailable: netnsUnavailable,
  async start(ctx, target) {
    // The load tool dials the backend itself; node-1's capture redirects it into the ztunnel.
    return { ...(await startMesh(ctx)), address: target };
  },
};
