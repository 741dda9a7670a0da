import { describe, expect, test } from "bun:test";
import { admitHbone, admitPlaintext, recheck } from "./admission.ts";
import { productpage } from "../state/bookinfo.test-support.ts";
import { bookinfoState } from "./bookinfo-state.test-support.ts";

const node2 = bookinfoState("node-2");
const SLEEP = "spiffe://cluster.local/ns/bookinfo/sa/sleep";
const NOTSLEEP = "spiffe://cluster.local/ns/bookinfo/sa/notsleep";

const hbone = (peerIdentity: string, target: string, port = 8080, arrivedAt?: string, state = node2) =>
  admitHbone(state, { peerIdentity, source: { address: "10.0.1.10", port: 40000 }, target: { address: target, port }, ...(arrivedAt ? { arrivedAt } : {}) });

const summary = (a: ReturnType<typeof admitHbone>) => (a.allowed ? { allowed: true, reason: a.decision.reason } : { allowed: false, code: a.error.code, message: a.error.message });

describe("admitHbone", () => {
  test.each([
    ["sleep is allowed by the policy", hbone(SLEEP, "10.0.2.10"), { allowed: true, reason: "allowed by policy" }],
    ["notsleep is refused (401)", hbone(NOTSLEEP, "10.0.2.10"), { allowed: false, code: "permission_denied", message: "connection rejected by policy: no allow policy matched" }],
    ["a workload on another node is a bad authority (400)", hbone(SLEEP, "10.0.1.11"), { allowed: false, code: "invalid_argument", message: "no workload at 10.0.1.11 on node node-2" }],
    ["an address that is no workload (400)", hbone(SLEEP, "10.9.9.9"), { allowed: false, code: "invalid_argument", message: "no workload at 10.9.9.9 on node node-2" }],
    ["authority must match the workload the connection reached", hbone(SLEEP, "10.0.2.10", 8080, "10.0.2.30"), { allowed: false, code: "invalid_argument", message: "authority 10.0.2.10 is not the workload the connection was made to (10.0.2.30)" }],
    ["a peer without a workload identity is refused", hbone("spiffe://cluster.local/waypoint", "10.0.2.10"), { allowed: false, code: "invalid_argument", message: 'not a workload SPIFFE id (path must be "/ns/<namespace>/sa/<service-account>"): "spiffe://cluster.local/waypoint"' }],
    ["no policy → allowed", hbone(NOTSLEEP, "10.0.2.30"), { allowed: true, reason: "no policies" }],
    [
      "a named policy not received yet denies (fail closed)",
      hbone(SLEEP, "10.0.2.10", 8080, undefined, bookinfoState("node-2", { policies: [] })),
      { allowed: false, code: "permission_denied", message: "connection rejected by policy: denied by policy bookinfo/productpage-viewer" },
    ],
  ])("%s", (_name, admission, want) => {
    expect(summary(admission)).toEqual(want as never);
  });

  test("removing the policy allows on recheck", () => {
    const a = hbone(NOTSLEEP, "10.0.2.10");
    expect(a.allowed).toBe(false);
    const facts = a.facts as NonNullable<typeof a.facts>;
    const open = bookinfoState("node-2", { policies: [], workloads: [{ ...productpage, authorizationPolicies: [] }] });
    expect(recheck(open, productpage, facts).allowed).toBe(true);
    expect(recheck(node2, productpage, facts).allowed).toBe(false);
  });
});

describe("admitPlaintext", () => {
  const strict = bookinfoState("node-2", { workloads: [{ ...productpage, authorizationPolicies: [], mtlsMode: "strict", portMtlsModes: { 9090: "permissive" } }], policies: [] });
  test.each([
    ["PERMISSIVE admits, then policy decides (no principal: the allow-sleep policy refuses)", admitPlaintext(node2, { address: "192.0.2.7", port: 1 }, { address: "10.0.2.10", port: 8080 }), { allowed: false, code: "permission_denied", message: "connection rejected by policy: no allow policy matched" }],
    ["STRICT refuses", admitPlaintext(strict, { address: "192.0.2.7", port: 1 }, { address: "10.0.2.10", port: 8080 }), { allowed: false, code: "permission_denied", message: "plaintext connection refused: PeerAuthentication is STRICT" }],
    ["a port-level PERMISSIVE overrides STRICT", admitPlaintext(strict, { address: "192.0.2.7", port: 1 }, { address: "10.0.2.10", port: 9090 }), { allowed: true, reason: "no policies" }],
    ["PERMISSIVE without policy admits", admitPlaintext(node2, { address: "192.0.2.7", port: 1 }, { address: "10.0.2.30", port: 9080 }), { allowed: true, reason: "no policies" }],
  ])("%s", (_name, admission, want) => {
    expect(summary(admission)).toEqual(want as never);
  });
});
