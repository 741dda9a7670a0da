import { describe, expect, test } from "bun:test";
import type { ProxyPrincipal } from "../xds/principal.ts";
import type { CsrSubject } from "./authority.ts";
import { authorizeCsr } from "./ca-service.ts";

const productpage = { trustDomain: "cluster.local", namespace: "bookinfo", serviceAccount: "productpage" };
const isBound = (node: string, id: { serviceAccount: string }) => node === "node-1" && id.serviceAccount === "productpage";
const token = (node: string): ProxyPrincipal => ({ node, via: "token", tokenId: "5b0c6f1e-0000-4000-8000-000000000001", recheck: async () => {} });

describe("authorizeCsr", () => {
  test.each<[string, ProxyPrincipal | undefined, CsrSubject, string | null]>([
    ["a workload bound to the token's node", token("node-1"), { kind: "workload", identity: productpage }, null],
    ["a workload on another node", token("node-2"), { kind: "workload", identity: productpage }, "node node-2 runs no workload"],
    ["the token's own node certificate", token("node-2"), { kind: "node", node: "node-2" }, null],
    ["another node's certificate", token("node-1"), { kind: "node", node: "node-2" }, "node node-1 cannot have the node certificate of node-2"],
    ["anything against a node certificate", { node: "node-1", via: "certificate", tokenId: "5b0c6f1e-0000-4000-8000-000000000001", recheck: async () => {} }, { kind: "node", node: "node-1" }, "issued against the node token"],
    ["no principal", undefined, { kind: "workload", identity: productpage }, "no node token"],
  ])("%s", (_name, principal, subject, refusal) => {
    const run = () => authorizeCsr(principal, subject, isBound);
    if (refusal === null) expect(run).not.toThrow();
    else expect(run).toThrow(refusal);
  });
});
