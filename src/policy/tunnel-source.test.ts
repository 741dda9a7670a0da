import { describe, expect, test } from "bun:test";
import { bookinfoView, productpageService, waypointService } from "../state/bookinfo.test-support.ts";
import { MeshState } from "../state/mesh-state.ts";
import { tunnelSource, type TunnelSourceInput } from "./tunnel-source.ts";

const node2 = new MeshState(bookinfoView);
/** The same mesh with no service or workload naming the waypoint: its replicas are plain workloads. */
const noWaypointRefs = new MeshState({ ...bookinfoView, services: [productpageService, waypointService] });
const SLEEP = "spiffe://cluster.local/ns/bookinfo/sa/sleep";
const NOTSLEEP = "spiffe://cluster.local/ns/bookinfo/sa/notsleep";
const WAYPOINT = "spiffe://cluster.local/ns/bookinfo/sa/waypoint";
const NODE1 = { address: "192.168.77.11", port: 50000 };
const at = (address: string) => ({ address, port: 40000 });

const input = (peerIdentity: string, forwardedFor?: string): TunnelSourceInput => ({ peerIdentity, peer: NODE1, ...(forwardedFor ? { forwardedFor: at(forwardedFor) } : {}) });

describe("tunnelSource: forwarded for= is believed only as far as the peer's identity vouches for it", () => {
  test.each([
    ["no header: the peer's address", node2, input(SLEEP), { source: NODE1, trusted: "peer" }],
    ["sleep's certificate, sleep's address: believed", node2, input(SLEEP, "10.0.1.10"), { source: at("10.0.1.10"), trusted: "forwarded", because: "workload identity" }],
    [
      "notsleep's certificate claiming sleep's address: the peer's address, and why",
      node2,
      input(NOTSLEEP, "10.0.1.10"),
      { source: NODE1, trusted: "peer", mismatch: `forwarded for=10.0.1.10:40000 belongs to workload bookinfo/sleep (${SLEEP}), not to the peer ${NOTSLEEP}, which is no waypoint` },
    ],
    [
      "a claimed address that is no workload (e.g. an ipBlocks-allowed range)",
      node2,
      input(NOTSLEEP, "203.0.113.9"),
      { source: NODE1, trusted: "peer", mismatch: `forwarded for=203.0.113.9:40000 belongs to no workload, not to the peer ${NOTSLEEP}, which is no waypoint` },
    ],
    ["a waypoint replica's identity may forward any client's address", node2, input(WAYPOINT, "203.0.113.9"), { source: at("203.0.113.9"), trusted: "forwarded", because: "waypoint" }],
    ["…also a workload's address", node2, input(WAYPOINT, "10.0.1.11"), { source: at("10.0.1.11"), trusted: "forwarded", because: "waypoint" }],
    [
      "an identity is a waypoint's only while xDS names that waypoint",
      noWaypointRefs,
      input(WAYPOINT, "10.0.1.10"),
      { source: NODE1, trusted: "peer", mismatch: `forwarded for=10.0.1.10:40000 belongs to workload bookinfo/sleep (${SLEEP}), not to the peer ${WAYPOINT}, which is no waypoint` },
    ],
    ["the waypoint's replica forwarding its own address is believed anyway", noWaypointRefs, input(WAYPOINT, "10.0.2.40"), { source: at("10.0.2.40"), trusted: "forwarded", because: "workload identity" }],
    [
      "a workload outside the mesh cannot be claimed by a mesh identity",
      node2,
      input(SLEEP, "10.0.3.5"),
      { source: NODE1, trusted: "peer", mismatch: `forwarded for=10.0.3.5:40000 belongs to workload bookinfo/legacy (spiffe://cluster.local/ns/bookinfo/sa/legacy), not to the peer ${SLEEP}, which is no waypoint` },
    ],
  ])("%s", (_name, state, arrival, want) => {
    expect(tunnelSource(state, arrival)).toEqual(want as never);
  });
});
