/**
 * In-process integration: the CA RPC on the control plane's xDS port, called like a ztunnel would —
 * node token in the authorization header, CSR in the request — and every refusal it must make.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { type RunningControlPlane } from "../src/controlplane/server.ts";
import { IstioCertificateService } from "../src/gen/istio/v1/auth/ca_pb.ts";
import { createCsr, generateWorkloadKey } from "../src/identity/x509/csr.ts";
import { runOk } from "./support/command.ts";
import { applyAndWait, BOOKINFO_YAML, startTestControlPlane } from "./support/control-plane.ts";

let dir: string;
let cp: RunningControlPlane;
let ca: ReturnType<typeof createClient<typeof IstioCertificateService>>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "mesh-ca-it-"));
  cp = await startTestControlPlane(dir);
  await applyAndWait(cp, BOOKINFO_YAML);
  ca = createClient(IstioCertificateService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${cp.xdsAddress.port}` }));
});
afterAll(async () => {
  await cp?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function request(spiffeId: string, token: string | undefined, validitySeconds = 3600n) {
  const csr = await createCsr(await generateWorkloadKey(), spiffeId);
  return ca.createCertificate({ csr, validityDuration: validitySeconds }, token ? { headers: { authorization: `Bearer ${token}` } } : {});
}

async function refusedWith(p: Promise<unknown>, code: Code, message: RegExp) {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(code);
    expect((err as ConnectError).rawMessage).toMatch(message);
    return;
  }
  throw new Error("expected a refusal");
}

describe("CA over the control plane's gRPC port", () => {
  test("a node gets certificates for its own workloads, verifiable with openssl", async () => {
    const { token } = await cp.tokens.mint("node-2", 3600_000);
    const res = await request("spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage", token);
    expect(res.certChain).toHaveLength(2);
    writeFileSync(join(dir, "leaf.pem"), res.certChain[0] as string);
    writeFileSync(join(dir, "root.pem"), cp.ca.material.trustBundle[0] as string);
    expect((await runOk(["openssl", "verify", "-CAfile", join(dir, "root.pem"), join(dir, "leaf.pem")])).trim()).toEndWith("OK");
    const text = await runOk(["openssl", "x509", "-noout", "-text", "-in", join(dir, "leaf.pem")]);
    expect(text).toContain("URI:spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage");
  });

  test("refusals: another node's workload, no token, bad tokens, revoked token, too long a lifetime", async () => {
    const { token: node2, record } = await cp.tokens.mint("node-2", 3600_000);
    await refusedWith(request("spiffe://cluster.local/ns/bookinfo/sa/sleep", node2), Code.PermissionDenied, /node node-2 runs no workload with identity spiffe:\/\/cluster.local\/ns\/bookinfo\/sa\/sleep/);
    await refusedWith(request("spiffe://cluster.local/ns/bookinfo/sa/ghost", node2), Code.PermissionDenied, /runs no workload/);
    await refusedWith(request("spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage", undefined), Code.Unauthenticated, /no credentials/);
    await refusedWith(request("spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage", `${node2.slice(0, -3)}abc`), Code.Unauthenticated, /signature or format/);
    await refusedWith(request("spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage", node2, 30n * 24n * 3600n), Code.InvalidArgument, /above the maximum/);
    await refusedWith(request("spiffe://evil.domain/ns/bookinfo/sa/bookinfo-productpage", node2), Code.PermissionDenied, /trust domain/);
    await refusedWith(ca.createCertificate({ csr: "garbage" }, { headers: { authorization: `Bearer ${node2}` } }), Code.InvalidArgument, /bad CSR/);
    await cp.tokens.revoke({ id: record.id });
    await refusedWith(request("spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage", node2), Code.Unauthenticated, /revoked/);
    const metrics = await (await fetch(`http://127.0.0.1:${cp.apiAddress.port}/metrics`)).text();
    expect(metrics).toMatch(/citadel_server_csr_refusals_total\{reason="permission_denied"\} [3-9]/);
    // Missing, forged and revoked tokens are refused by the listener, before the CSR is read.
    expect(metrics).toMatch(/mesh_xds_requests_refused_total\{reason="unauthenticated"\} [3-9]/);
  });

  test("tokens through the REST API: mint, list, revoke by node", async () => {
    const api = (path: string, body?: unknown) =>
      fetch(`http://127.0.0.1:${cp.apiAddress.port}${path}`, {
        method: body === undefined ? "GET" : "POST",
        headers: { authorization: `Bearer ${cp.adminToken}`, "content-type": "application/json" },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }));
    const minted = await api("/api/v1/tokens", { node: "node-1", ttl: "1h" });
    expect(minted.status).toBe(200);
    const res = await request("spiffe://cluster.local/ns/bookinfo/sa/sleep", minted.body.token as string);
    expect(res.certChain).toHaveLength(2);
    expect((await api("/api/v1/tokens", { node: "Bad Node" })).status).toBe(400);
    // A lifetime the API would not honour is refused, not ignored or stretched.
    for (const [ttl, message] of [
      [3600, '"ttl" must be a duration string such as "90s" or "24h" (got the number 3600)'],
      ["1ms", "token lifetime must be between 1s and 365d (got 1ms)"],
      ["soon", '"ttl": "soon" is not a duration (e.g. 500ms, 30s, 5m, 24h)'],
    ] as const) {
      expect(await api("/api/v1/tokens", { node: "node-1", ttl })).toMatchObject({ status: 400, body: { message } });
    }
    const tenSeconds = await api("/api/v1/tokens", { node: "node-9", ttl: "10s" });
    expect(Date.parse(tenSeconds.body.expiresAt as string) - Date.parse(tenSeconds.body.issuedAt as string)).toBe(10_000);
    expect(((await api("/api/v1/tokens")).body.items as unknown[]).length).toBeGreaterThan(0);
    expect(((await api("/api/v1/tokens/revoke", { node: "node-1" })).body.items as unknown[]).length).toBe(1);
    await refusedWith(request("spiffe://cluster.local/ns/bookinfo/sa/sleep", minted.body.token as string), Code.Unauthenticated, /revoked/);
  });
});
