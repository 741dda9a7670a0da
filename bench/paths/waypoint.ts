/**
 * The mesh with a waypoint: sleep → (capture in node-1) → ztunnel node-1 → HBONE → waypoint
 * (HTTP/1.1 per request, its own namespace behind node-2) → HBONE → (capture in node-2) →
 * ztunnel node-2 → productpage. The load tool dials a service VIP (WAYPOINT_SERVICE_VIP, the
 * backend's port) whose Service carries `istio.io/use-waypoint`; the workload address alone
 * would bypass the waypoint (waypoint-for: service).
 *
 * Config: the bookinfo fixture (its ALLOW policy for sleep included) plus the Gateway, the
 * Service, the replica's WorkloadEntry and an ALLOW policy for the waypoint's identity (the
 * destination ztunnel sees the waypoint, not sleep). verify() rejects the figures unless the
 * waypoint counted the requests (istio_requests_total{reporter="waypoint"}).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { NetnsTestbed } from "../lib/testbed.ts";
import { netnsUnavailable, WAYPOINT_SERVICE_VIP, WAYPOINT_WORKLOAD } from "../lib/testbed.ts";
import { meshBinaryInfo } from "../tools/mesh-control-plane.ts";
import { BOOKINFO_YAML, metricSum, NODES, startMeshControlPlane, startMeshWaypoint, startZtunnel, waitReady, type Ztunnel } from "../tools/mesh-netns.ts";
import type { TrafficPath } from "./path.ts";

const REQUESTS = "istio_requests_total";

export function waypointYaml(port: number): string {
  return `
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: bookinfo}
spec: {gatewayClassName: istio-waypoint, listeners: [{name: mesh, port: 15008, protocol: HBONE}]}
---
apiVersion: v1
kind: Service
metadata: {name: bench, namespace: bookinfo, labels: {istio.io/use-waypoint: waypoint}}
spec: {selector: {app: productpage}, clusterIP: ${WAYPOINT_SERVICE_VIP}, ports: [{name: http, port: ${port}}]}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: waypoint-1, namespace: bookinfo}
spec: {address: ${WAYPOINT_WORKLOAD.ip}, node: node-2, serviceAccount: waypoint, labels: {gateway.networking.k8s.io/gateway-name: waypoint}}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: productpage-via-waypoint, namespace: bookinfo}
spec: {selector: {matchLabels: {app: productpage}}, action: ALLOW, rules: [{from: [{source: {principals: [cluster.local/ns/bookinfo/sa/waypoint]}}]}]}
`;
}

export const waypoint: TrafficPath = {
  name: "waypoint",
  description: "sleep → ztunnel node-1 → HBONE → waypoint (HTTP/1.1 per request) → HBONE → ztunnel node-2 → productpage, iptables capture, dist/mesh",
  tools: ["ip", "iptables", "iptables-save", "curl"],
  testbed: "netns",
  optIn: true,
  unavailable: netnsUnavailable,
  async start(ctx, target) {
    const bed = ctx.testbed as NetnsTestbed;
    const binary = await meshBinaryInfo();
    if (binary.newerSources.length > 0) ctx.log(`warning: dist/mesh (${binary.version}) is older than ${binary.newerSources.length} file(s) under src/: run \`npm run compile\``);
    const config = join(ctx.dir, "mesh.yaml");
    writeFileSync(config, readFileSync(BOOKINFO_YAML, "utf8") + waypointYaml(target.port));
    const cp = await startMeshControlPlane(ctx.scope, bed, ctx.dir, config);
    const ztunnels: Ztunnel[] = [];
    for (const node of NODES) ztunnels.push(await startZtunnel(ctx.scope, bed, cp, node, ctx.dir));
    await Promise.all(ztunnels.map((z) => waitReady(bed, z)));
    const wp = await startMeshWaypoint(ctx.scope, bed, cp, { where: WAYPOINT_WORKLOAD.name, gateway: "bookinfo/waypoint", node: "node-2", dir: ctx.dir });
    const [client, server] = ztunnels as [Ztunnel, Ztunnel];
    ctx.log(`${binary.version}: ztunnel node-1 pid ${client.pid()}, node-2 pid ${server.pid()}, waypoint pid ${wp.pid()}`);
    const before = metricSum(await wp.metrics(), REQUESTS, 'reporter="waypoint"');
    return {
      address: { host: WAYPOINT_SERVICE_VIP, port: target.port },
      cpuGroups: [client.daemon.pid, wp.daemon.pid, server.daemon.pid],
      proxies: [
        { side: "client", name: "ztunnel node-1", pgid: client.daemon.pid, pid: () => client.pid(), fdsPerConnection: 1 },
        { side: "server", name: "waypoint", pgid: wp.daemon.pid, pid: () => wp.pid(), fdsPerConnection: 1 },
        { side: "server", name: "ztunnel node-2", pgid: server.daemon.pid, pid: () => server.pid(), fdsPerConnection: 1 },
      ],
      verify: async () => {
        for (const d of [client.daemon, server.daemon, wp.daemon]) if (d.exit()) return `${d.name} exited during the load: ${d.logTail()}`;
        const counted = metricSum(await wp.metrics(), REQUESTS, 'reporter="waypoint"') - before;
        return counted > 0 ? null : `the waypoint counted no request (${REQUESTS}): the traffic did not go through it`;
      },
    };
  },
};
