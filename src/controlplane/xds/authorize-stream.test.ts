import { describe, expect, test } from "bun:test";
import type { GatewayRef } from "../../identity/gateway-ref.ts";
import { authorizeStream } from "./authorize-stream.ts";
import type { ProxyPrincipal } from "./principal.ts";

const recheck = async () => {};
const nodeToken = (node: string): ProxyPrincipal => ({ node, via: "token", tokenId: "t", recheck });
const waypointToken = (namespace: string, name: string): ProxyPrincipal => ({ waypoint: { namespace, name }, via: "token", tokenId: "t", recheck });
/** bookinfo/waypoint has replicas on node-1 and node-2; other/waypoint on node-3. */
const hasReplica = (g: GatewayRef, node: string) =>
  (g.namespace === "bookinfo" && g.name === "waypoint" && (node === "node-1" || node === "node-2")) || (g.namespace === "other" && node === "node-3");

describe("authorizeStream", () => {
  test.each<[string, ProxyPrincipal, string, "ztunnel" | "waypoint", string | null]>([
    ["a node token as its node, ztunnel", nodeToken("node-1"), "node-1", "ztunnel", null],
    ["a node token as its node, waypoint", nodeToken("node-1"), "node-1", "waypoint", null],
    ["a node token as another node", nodeToken("node-1"), "node-2", "ztunnel", "token is for node node-1, not node-2"],
    ["a node certificate as another node", { node: "node-1", via: "certificate", tokenId: "t", recheck }, "node-2", "waypoint", "node certificate is for node node-1"],
    ["a waypoint token as waypoint on a node with its replica", waypointToken("bookinfo", "waypoint"), "node-2", "waypoint", null],
    ["a waypoint token as ztunnel on a node with its replica", waypointToken("bookinfo", "waypoint"), "node-1", "ztunnel", "cannot open a ztunnel stream"],
    ["a waypoint token on a node without its replica", waypointToken("bookinfo", "waypoint"), "node-3", "waypoint", "has no replica on node node-3"],
    ["another namespace's waypoint of the same name", waypointToken("other", "waypoint"), "node-1", "waypoint", "waypoint other/waypoint has no replica on node node-1"],
  ])("%s", (_name, principal, node, role, refusal) => {
    const run = () => authorizeStream(principal, node, role, hasReplica);
    if (refusal === null) expect(run).not.toThrow();
    else expect(run).toThrow(refusal);
  });
});
