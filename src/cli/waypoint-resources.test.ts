import { describe, expect, test } from "bun:test";
import type { StoredResource } from "../controlplane/resources/resource.ts";
import { enrolledNamespace, renderList, renderStatus, waypointGateway, waypointStatus, warningsFor, type ProxyListing, type ReplicaConnection } from "./waypoint-resources.ts";

function stored(kind: string, namespace: string, name: string, spec: unknown, labels: Record<string, string> = {}): StoredResource {
  return { apiVersion: "v1", kind, metadata: { name, namespace, labels, annotations: {}, uid: "u", resourceVersion: "7", generation: 1, creationTimestamp: "2026-01-01T00:00:00Z" }, spec };
}

const gateway = stored("Gateway", "bookinfo", "waypoint", { gatewayClassName: "istio-waypoint", listeners: [] }, { "istio.io/waypoint-for": "all" });
const replica = (name: string, node: string, where: "spec" | "metadata" = "spec", namespace = "bookinfo") =>
  where === "spec"
    ? stored("WorkloadEntry", namespace, name, { address: "10.0.2.40", node, serviceAccount: "waypoint", labels: { "gateway.networking.k8s.io/gateway-name": "waypoint" } })
    : stored("WorkloadEntry", namespace, name, { address: "10.0.2.41", node, serviceAccount: "waypoint" }, { "gateway.networking.k8s.io/gateway-name": "waypoint" });
const proxy = (node: string, role: string, waypoint?: string): ProxyListing => ({ node, role, connectedAt: "now", ...(waypoint ? { waypoint } : {}) });

describe("waypointGateway", () => {
  test("class istio-waypoint, the HBONE listener on 15008, waypoint-for as a label", () => {
    expect(waypointGateway("bookinfo", "wp", "workload")).toEqual({
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "Gateway",
      metadata: { name: "wp", namespace: "bookinfo", labels: { "istio.io/waypoint-for": "workload" }, annotations: {} },
      spec: { gatewayClassName: "istio-waypoint", listeners: [{ name: "mesh", port: 15008, protocol: "HBONE" }] },
    });
  });
});

describe("enrolledNamespace", () => {
  test("a new Namespace carries only the label", () => {
    expect(enrolledNamespace("bookinfo", "wp", undefined).metadata).toEqual({ name: "bookinfo", namespace: "", labels: { "istio.io/use-waypoint": "wp" }, annotations: {} });
  });
  test("an existing one keeps its labels and annotations, and its resourceVersion so a concurrent change conflicts", () => {
    const existing = stored("Namespace", "", "bookinfo", {}, { "istio.io/dataplane-mode": "ambient", "istio.io/use-waypoint": "old" });
    expect(enrolledNamespace("bookinfo", "wp", existing).metadata).toEqual({
      name: "bookinfo",
      namespace: "",
      labels: { "istio.io/dataplane-mode": "ambient", "istio.io/use-waypoint": "wp" },
      annotations: {},
      resourceVersion: "7",
    });
  });
});

describe("waypointStatus", () => {
  test.each<[string, StoredResource[], ProxyListing[], ReplicaConnection[], boolean]>([
    ["no replicas", [], [proxy("node-2", "waypoint", "bookinfo/waypoint")], [], false],
    ["a replica, nothing connected", [replica("wp-1", "node-2")], [], ["none"], false],
    ["a replica, its waypoint token connected on its node", [replica("wp-1", "node-2")], [proxy("node-2", "waypoint", "bookinfo/waypoint")], ["waypoint-token"], true],
    ["a replica labelled in metadata counts too", [replica("wp-1", "node-2", "metadata")], [proxy("node-2", "waypoint", "bookinfo/waypoint")], ["waypoint-token"], true],
    ["node credentials on its node", [replica("wp-1", "node-2")], [proxy("node-2", "waypoint")], ["node-credentials"], true],
    ["a ztunnel on its node is not it", [replica("wp-1", "node-2")], [proxy("node-2", "ztunnel")], ["none"], false],
    ["another waypoint's token on its node is not it", [replica("wp-1", "node-2")], [proxy("node-2", "waypoint", "bookinfo/other")], ["none"], false],
    ["its token on another node is not this replica", [replica("wp-1", "node-2"), replica("wp-2", "node-1")], [proxy("node-1", "waypoint", "bookinfo/waypoint")], ["none", "waypoint-token"], true],
    ["a same-named replica in another namespace is not its", [replica("wp-1", "node-2", "spec", "other")], [proxy("node-2", "waypoint", "bookinfo/waypoint")], [], false],
  ])("%s", (_name, entries, proxies, connections, programmed) => {
    const s = waypointStatus({ gateway, workloadEntries: entries, proxies, warnings: [] });
    expect(s.replicas.map((r) => r.connected)).toEqual(connections);
    expect(s.programmed).toBe(programmed);
    expect(s.waypointFor).toBe("all");
  });

  test("renders replicas, connection and warnings", () => {
    const s = waypointStatus({ gateway, workloadEntries: [replica("wp-1", "node-2")], proxies: [proxy("node-2", "waypoint", "bookinfo/waypoint")], warnings: [{ resource: "Gateway bookinfo/waypoint", message: "odd" }] });
    expect(renderStatus(s)).toBe(
      [
        "Waypoint bookinfo/waypoint (for all): programmed",
        "REPLICA   ADDRESS     NODE     SERVICE-ACCOUNT   CONNECTED",
        "wp-1      10.0.2.40   node-2   waypoint          yes (waypoint token)",
        "Warnings:",
        "  Gateway bookinfo/waypoint: odd",
      ].join("\n"),
    );
  });
});

describe("warningsFor", () => {
  test("the Gateway's own warnings and those naming it, not another waypoint's", () => {
    const warnings = [
      { resource: "Gateway bookinfo/waypoint", message: "a" },
      { resource: "Service bookinfo/reviews", message: "uses waypoint bookinfo/waypoint, which does not exist" },
      { resource: "HTTPRoute bookinfo/r", message: "parentRef Gateway bookinfo/waypoint is a waypoint" },
      { resource: "Service bookinfo/ratings", message: "uses waypoint bookinfo/waypoint2, which does not exist" },
      { resource: "Gateway other/waypoint", message: "b" },
    ];
    expect(warningsFor("bookinfo", "waypoint", warnings)).toEqual([
      "Gateway bookinfo/waypoint: a",
      "Service bookinfo/reviews: uses waypoint bookinfo/waypoint, which does not exist",
      "HTTPRoute bookinfo/r: parentRef Gateway bookinfo/waypoint is a waypoint",
    ]);
  });
});

describe("renderList", () => {
  test("namespace, name, waypoint-for and replica count", () => {
    expect(renderList([gateway], [replica("wp-1", "node-2"), replica("wp-2", "node-1", "metadata")])).toBe("NAMESPACE   NAME       FOR   REPLICAS\nbookinfo    waypoint   all   2");
    expect(renderList([], [])).toBe("No waypoints found.");
  });
});
