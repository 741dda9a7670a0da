import { describe, expect, test } from "bun:test";
import { bookinfoView, sleep } from "../state/bookinfo.test-support.ts";
import { MeshState } from "../state/mesh-state.ts";
import { clientAddress } from "./client-address.ts";

const state = new MeshState(bookinfoView);
const SLEEP = "spiffe://cluster.local/ns/bookinfo/sa/sleep";
const peer = { address: "10.0.1.1", port: 40000 };

describe("the client address a waypoint believes", () => {
  const cases: Array<[string, { peerIdentity: string; forwardedFor?: { address: string; port: number } }, { address: string; trusted: boolean }]> = [
    ["no forwarded header: the peer", { peerIdentity: SLEEP }, { address: "10.0.1.1", trusted: true }],
    ["forwarded names the peer's own workload", { peerIdentity: SLEEP, forwardedFor: { address: sleep.addresses[0] as string, port: 1234 } }, { address: "10.0.1.10", trusted: true }],
    ["forwarded names another identity's workload", { peerIdentity: SLEEP, forwardedFor: { address: "10.0.2.10", port: 1234 } }, { address: "10.0.1.1", trusted: false }],
    ["forwarded names an address outside the mesh", { peerIdentity: SLEEP, forwardedFor: { address: "192.0.2.1", port: 1234 } }, { address: "10.0.1.1", trusted: false }],
  ];
  for (const [name, t, want] of cases) {
    test(name, () => {
      const got = clientAddress(state, { ...t, peer });
      expect({ address: got.client.address, trusted: got.trusted }).toEqual(want);
    });
  }
});
