import { describe, expect, test } from "bun:test";
import { MeshError } from "../../errors/mesh-error.ts";
import { requestAuthenticator, type PeerCertificate, type TokenChecks } from "./authenticate.ts";

const T1 = "5b0c6f1e-0000-4000-8000-000000000001";
const T2 = "5b0c6f1e-0000-4000-8000-000000000002";
const REVOKED = "5b0c6f1e-0000-4000-8000-00000000dead";

/** node-1's token T1 is good (header "Bearer node-1-token"); node-2's T2 is good; REVOKED is revoked (node-2). */
function checks(revoked: Set<string> = new Set([REVOKED])): TokenChecks {
  return {
    verifyHeader: async (authorization) => {
      if (authorization === "Bearer node-1-token" && !revoked.has(T1)) return { node: "node-1", id: T1 };
      throw new MeshError("unauthenticated", "bad token");
    },
    verifyId: async (id, node) => {
      if (revoked.has(id)) throw new MeshError("unauthenticated", `node token refused: revoked (id ${id})`);
      if (!((id === T1 && node === "node-1") || (id === T2 && node === "node-2"))) throw new MeshError("unauthenticated", "node token refused: node does not match its record");
    },
  };
}
const authenticate = requestAuthenticator(checks());
const nodeCert = (node: string, tokenId?: string): PeerCertificate => ({ uris: [`urn:mesh:node:${node}`], ...(tokenId ? { commonName: `node-token:${tokenId}` } : {}) });
const uris = (...u: string[]): PeerCertificate => ({ uris: u });

describe("requestAuthenticator", () => {
  test.each([
    ["a node certificate naming its node's token", undefined, nodeCert("node-2", T2), { node: "node-2", via: "certificate", tokenId: T2 }],
    ["a node certificate wins over a token", "Bearer node-1-token", nodeCert("node-2", T2), { node: "node-2", via: "certificate", tokenId: T2 }],
    ["a token without a certificate", "Bearer node-1-token", uris(), { node: "node-1", via: "token", tokenId: T1 }],
    ["a workload certificate with a token: the token", "Bearer node-1-token", uris("spiffe://cluster.local/ns/a/sa/b"), { node: "node-1", via: "token", tokenId: T1 }],
    ["a node certificate naming no token, with a token: the token", "Bearer node-1-token", nodeCert("node-2"), { node: "node-1", via: "token", tokenId: T1 }],
  ] as const)("%s", async (_name, authorization, peer, want) => {
    expect(await authenticate(authorization, peer)).toMatchObject(want);
  });

  test.each([
    ["a workload certificate alone", undefined, uris("spiffe://cluster.local/ns/a/sa/b"), "permission_denied", /not a node certificate/],
    ["a certificate with a node and a workload URI", undefined, uris("urn:mesh:node:node-2", "spiffe://cluster.local/ns/a/sa/b"), "permission_denied", /not a node certificate/],
    ["a malformed node URI", undefined, uris("urn:mesh:node:Node_2"), "permission_denied", /not a node certificate/],
    ["a node certificate naming no token", undefined, nodeCert("node-2"), "permission_denied", /names no node token/],
    ["a node certificate whose CN is not a token id", undefined, { uris: ["urn:mesh:node:node-2"], commonName: "node-token:../x" }, "permission_denied", /names no node token/],
    ["a node certificate whose token is revoked", undefined, nodeCert("node-2", REVOKED), "unauthenticated", /^node certificate refused: node token refused: revoked/],
    ["a revoked node certificate even with a good token", "Bearer node-1-token", nodeCert("node-2", REVOKED), "unauthenticated", /revoked/],
    ["a node certificate naming another node's token", undefined, nodeCert("node-2", T1), "unauthenticated", /node does not match/],
    ["nothing", undefined, uris(), "unauthenticated", /no credentials/],
    ["a bad token", "Bearer forged", uris(), "unauthenticated", /bad token/],
  ] as const)("refuses %s", async (_name, authorization, peer, code, message) => {
    const err = await authenticate(authorization, peer).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(MeshError);
    expect((err as MeshError).code).toBe(code);
    expect((err as MeshError).message).toMatch(message);
  });
});

describe("re-checking a stream's credentials", () => {
  test.each([
    ["a token", "Bearer node-1-token", uris()],
    ["a node certificate (its token is looked up again)", undefined, nodeCert("node-1", T1)],
  ] as const)("%s is verified again, so a revoked one fails the re-check", async (_name, authorization, peer) => {
    const revoked = new Set<string>();
    const principal = await requestAuthenticator(checks(revoked))(authorization, peer);
    await principal.recheck();
    revoked.add(T1);
    expect(await principal.recheck().then(() => "held", (e: MeshError) => e.code)).toBe("unauthenticated");
  });
});
