import { describe, expect, test } from "bun:test";
import type { ProxyPrincipal } from "../xds/principal.ts";
import type { CsrSubject } from "./authority.ts";
import { authorizeCsr, type IdentityBindings } from "./ca-service.ts";

const productpage = { trustDomain: "cluster.local", namespace: "bookinfo", serviceAccount: "productpage" };
const bindings: IdentityBindings = {
  isBound: (node, id) => node === "node-1" && id.serviceAccount === "productpage",
  // bookinfo/waypoint's replicas run as bookinfo-waypoint, on node-1 beside productpage.
  waypointServiceAccounts: (g) => (g.namespace === "bookinfo" && g.name === "waypoint" ? ["bookinfo-waypoint"] : []),
};
const token = (node: string): ProxyPrincipal => ({ node, via: "token", tokenId: "5b0c6f1e-0000-4000-8000-000000000001", recheck: async () => {} });
const waypointToken = (namespace: string, name: string): ProxyPrincipal => ({ waypoint: { namespace, name }, via: "token", tokenId: "5b0c6f1e-0000-4000-8000-000000000002", recheck: async () => {} });
const waypointIdentity = { ...productpage, serviceAccount: "bookinfo-waypoint" };

describe("authorizeCsr", () => {
  test.each<[string, ProxyPrincipal | undefined, CsrSubject, string | null]>([
    ["a workload bound to the token's node", token("node-1"), { kind: "workload", identity: productpage }, null],
    ["a workload on another node", token("node-2"), { kind: "workload", identity: productpage }, "node node-2 runs no workload"],
    ["the token's own node certificate", token("node-2"), { kind: "node", node: "node-2" }, null],
    ["another node's certificate", token("node-1"), { kind: "node", node: "node-2" }, "node node-1 cannot have the node certificate of node-2"],
    ["anything against a node certificate", { node: "node-1", via: "certificate", tokenId: "5b0c6f1e-0000-4000-8000-000000000001", recheck: async () => {} }, { kind: "node", node: "node-1" }, "issued against the node token"],
    ["no principal", undefined, { kind: "workload", identity: productpage }, "no node token"],
    ["a waypoint token: its replicas' identity", waypointToken("bookinfo", "waypoint"), { kind: "workload", identity: waypointIdentity }, null],
    ["a waypoint token: a workload on its replica's node", waypointToken("bookinfo", "waypoint"), { kind: "workload", identity: productpage }, "waypoint bookinfo/waypoint is not spiffe://cluster.local/ns/bookinfo/sa/productpage"],
    ["a waypoint token: its account name in another namespace", waypointToken("bookinfo", "waypoint"), { kind: "workload", identity: { ...waypointIdentity, namespace: "other" } }, "is not spiffe://cluster.local/ns/other/sa/bookinfo-waypoint"],
    ["a waypoint token with no replicas", waypointToken("bookinfo", "gone"), { kind: "workload", identity: waypointIdentity }, "waypoint bookinfo/gone is not"],
    ["a waypoint token: a node certificate", waypointToken("bookinfo", "waypoint"), { kind: "node", node: "node-1" }, "cannot have a node certificate"],
  ])("%s", (_name, principal, subject, refusal) => {
    const run = () => authorizeCsr(principal, subject, bindings);
    if (refusal === null) expect(run).not.toThrow();
    else expect(run).toThrow(refusal);
  });
});
