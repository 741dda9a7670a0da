import { describe, expect, test } from "bun:test";
import { passthroughGuard } from "./passthrough-guard.ts";
import { planOutbound, type OutboundRoute } from "./route.ts";
import { productpage, productpageLocal, sleep, notsleep, outside, reviews, waypointA, waypointB, workload } from "../state/bookinfo.test-support.ts";
import { bookinfoState } from "./bookinfo-state.test-support.ts";

const node1 = bookinfoState("node-1");
/** node-1 as in test/support/topology.ts: its LAN address and its workloads' gateway; the control plane beside it. */
const guard = passthroughGuard({ nodeAddresses: ["192.168.77.11/32", "10.0.1.1/32"], controlPlane: ["192.168.77.2"], denied: [] });
const plan = (src: string, address: string, port: number, start = 0, state = node1) => planOutbound(state, src, { address, port }, { hbonePort: 15008, start, guard });

function summary(r: OutboundRoute) {
  if (r.kind === "refuse") return { kind: r.kind, code: r.error.code, message: r.error.message };
  if (r.kind === "direct") return { kind: r.kind, target: `${r.target.address}:${r.target.port}` };
  return { kind: r.kind, hops: r.hops.map((h) => `${h.local ? "local" : `${h.hbone.address}:${h.hbone.port}`} ${h.target.address}:${h.target.port} ${h.expectedIdentity}`) };
}

describe("planOutbound", () => {
  test.each([
    ["service VIP → the endpoint's target port over HBONE", plan("10.0.1.10", "10.96.0.20", 9080), { kind: "tunnel", hops: ["10.0.2.10:15008 10.0.2.10:8080 spiffe://cluster.local/ns/bookinfo/sa/productpage"] }],
    ["workload address → that workload", plan("10.0.1.11", "10.0.2.10", 8080), { kind: "tunnel", hops: ["10.0.2.10:15008 10.0.2.10:8080 spiffe://cluster.local/ns/bookinfo/sa/productpage"] }],
    ["same node → in-process fast path", plan("10.0.1.10", "10.0.1.11", 80), { kind: "tunnel", hops: ["local 10.0.1.11:80 spiffe://cluster.local/ns/bookinfo/sa/notsleep"] }],
    ["outside the mesh → direct", plan("10.0.1.10", "10.0.3.5", 80), { kind: "direct", target: "10.0.3.5:80" }],
    ["unknown address → direct", plan("10.0.1.10", "192.0.2.1", 443), { kind: "direct", target: "192.0.2.1:443" }],
    ["service port not declared → refused", plan("10.0.1.10", "10.96.0.20", 80), { kind: "refuse", code: "unavailable", message: "service bookinfo/productpage has no port 80" }],
    ["source on another node → refused", plan("10.0.2.10", "10.96.0.20", 9080), { kind: "refuse", code: "permission_denied", message: "source 10.0.2.10 is not a workload on node node-1" }],
    ["unknown source → refused", plan("127.0.0.1", "10.96.0.20", 9080), { kind: "refuse", code: "permission_denied", message: "source 127.0.0.1 is not a workload on node node-1" }],
    [
      "service behind a waypoint → its replicas, authority unchanged",
      plan("10.0.1.10", "10.96.0.30", 9080),
      { kind: "tunnel", hops: ["10.0.2.40:15008 10.96.0.30:9080 spiffe://cluster.local/ns/bookinfo/sa/waypoint", "10.0.1.40:15008 10.96.0.30:9080 spiffe://cluster.local/ns/bookinfo/sa/waypoint"] },
    ],
    [
      "round robin rotates the replicas",
      plan("10.0.1.10", "10.96.0.30", 9080, 1),
      { kind: "tunnel", hops: ["10.0.1.40:15008 10.96.0.30:9080 spiffe://cluster.local/ns/bookinfo/sa/waypoint", "10.0.2.40:15008 10.96.0.30:9080 spiffe://cluster.local/ns/bookinfo/sa/waypoint"] },
    ],
    [
      "waypoint without replicas → refused",
      plan("10.0.1.10", "10.96.0.30", 9080, 0, bookinfoState("node-1", { workloads: [sleep, reviews] })),
      { kind: "refuse", code: "unavailable", message: "waypoint bookinfo/waypoint has no replicas" },
    ],
    [
      "service without endpoints → refused",
      plan("10.0.1.10", "10.96.0.20", 9080, 0, bookinfoState("node-1", { workloads: [sleep] })),
      { kind: "refuse", code: "unavailable", message: "service bookinfo/productpage has no endpoints" },
    ],
    [
      "endpoints on both nodes: rotation and failover order",
      plan("10.0.1.10", "10.96.0.20", 9080, 1, bookinfoState("node-1", { workloads: [sleep, productpage, productpageLocal] })),
      { kind: "tunnel", hops: ["local 10.0.1.20:9080 spiffe://cluster.local/ns/bookinfo/sa/productpage-2", "10.0.2.10:15008 10.0.2.10:8080 spiffe://cluster.local/ns/bookinfo/sa/productpage"] },
    ],
    [
      "a source outside the mesh talks directly",
      plan("10.0.1.10", "10.96.0.20", 9080, 0, bookinfoState("node-1", { workloads: [{ ...sleep, captured: false }, productpage] })),
      { kind: "direct", target: "10.96.0.20:9080" },
    ],
    [
      "passthrough to the node's own address → refused",
      plan("10.0.1.10", "192.168.77.11", 22),
      { kind: "refuse", code: "permission_denied", message: "passthrough to 192.168.77.11:22 refused: it is this node (192.168.77.11/32), which workload traffic may not reach from the node's address" },
    ],
    [
      "passthrough to the control plane → refused (any port)",
      plan("10.0.1.10", "192.168.77.2", 15014),
      { kind: "refuse", code: "permission_denied", message: "passthrough to 192.168.77.2:15014 refused: it is the control plane (192.168.77.2), which workload traffic may not reach from the node's address" },
    ],
    [
      "a source outside the mesh is held to the same guard",
      plan("10.0.1.10", "10.0.1.1", 15000, 0, bookinfoState("node-1", { workloads: [{ ...sleep, captured: false }] })),
      { kind: "refuse", code: "permission_denied", message: "passthrough to 10.0.1.1:15000 refused: it is this node (10.0.1.1/32), which workload traffic may not reach from the node's address" },
    ],
    [
      "an uncaptured workload on the node's address is still the node",
      plan("10.0.1.10", "192.168.77.11", 80, 0, bookinfoState("node-1", { workloads: [sleep, workload("hostnet", "192.168.77.11", "node-1", { captured: false })] })),
      { kind: "refuse", code: "permission_denied", message: "passthrough to 192.168.77.11:80 refused: it is this node (192.168.77.11/32), which workload traffic may not reach from the node's address" },
    ],
    ["another node's address → direct", plan("10.0.1.10", "192.168.77.12", 80), { kind: "direct", target: "192.168.77.12:80" }],
  ])("%s", (_name, route, want) => {
    expect(summary(route)).toEqual(want as never);
  });

  test("the route names source, service and waypoint for the access log", () => {
    const r = plan("10.0.1.10", "10.96.0.30", 9080);
    expect(r.kind === "tunnel" && [r.source.name, r.service?.name, r.waypoint?.name, r.hops[0]?.peer.name]).toEqual(["sleep", "reviews", "waypoint", waypointA.name]);
    void [notsleep, outside, waypointB];
  });
});
