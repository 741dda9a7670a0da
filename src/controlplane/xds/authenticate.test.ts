import { describe, expect, test } from "bun:test";
import { MeshError } from "../../errors/mesh-error.ts";
import { requestAuthenticator } from "./authenticate.ts";

const authenticate = requestAuthenticator(async (authorization) => {
  if (authorization === "Bearer node-1-token") return { node: "node-1" };
  throw new MeshError("unauthenticated", "bad token");
});

describe("requestAuthenticator", () => {
  test.each([
    ["a node certificate", undefined, ["urn:mesh:node:node-2"], { node: "node-2", via: "certificate" }],
    ["a node certificate wins over a token", "Bearer node-1-token", ["urn:mesh:node:node-2"], { node: "node-2", via: "certificate" }],
    ["a token without a certificate", "Bearer node-1-token", [], { node: "node-1", via: "token" }],
    ["a workload certificate with a token: the token", "Bearer node-1-token", ["spiffe://cluster.local/ns/a/sa/b"], { node: "node-1", via: "token" }],
  ] as const)("%s", async (_name, authorization, uris, want) => {
    expect(await authenticate(authorization, uris)).toMatchObject(want);
  });

  test.each([
    ["a workload certificate alone", undefined, ["spiffe://cluster.local/ns/a/sa/b"], "permission_denied", /not a node certificate/],
    ["a certificate with a node and a workload URI", undefined, ["urn:mesh:node:node-2", "spiffe://cluster.local/ns/a/sa/b"], "permission_denied", /not a node certificate/],
    ["a malformed node URI", undefined, ["urn:mesh:node:Node_2"], "permission_denied", /not a node certificate/],
    ["nothing", undefined, [], "unauthenticated", /no credentials/],
    ["a bad token", "Bearer forged", [], "unauthenticated", /bad token/],
  ] as const)("refuses %s", async (_name, authorization, uris, code, message) => {
    const err = await authenticate(authorization, uris).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(MeshError);
    expect((err as MeshError).code).toBe(code);
    expect((err as MeshError).message).toMatch(message);
  });
});

describe("re-checking a stream's credentials", () => {
  test("a token is verified again, so a revoked one fails the re-check", async () => {
    let revoked = false;
    const check = requestAuthenticator(async (authorization) => {
      if (authorization === "Bearer node-1-token" && !revoked) return { node: "node-1" };
      throw new MeshError("unauthenticated", "token revoked");
    });
    const principal = await check("Bearer node-1-token", []);
    await principal.recheck();
    revoked = true;
    expect(await principal.recheck().then(() => "held", (e: MeshError) => e.code)).toBe("unauthenticated");
  });
});
