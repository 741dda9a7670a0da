/**
 * Attack: a node whose tokens were revoked (a stolen or decommissioned node) keeps authenticating
 * xDS with the node certificate it was issued against them, for the certificate's whole lifetime
 * (24 h by default), and keeps its live stream. Against `dist/mesh control-plane` with TLS on
 * 15012: `mesh token revoke --node node-2` ends node-2's certificate-authenticated stream with
 * UNAUTHENTICATED within seconds and a new stream with that certificate is refused, while node-1's
 * certificate stream is untouched; a node certificate whose token expires stops with its token.
 * Before the fix the stream stayed open and the certificate kept authenticating.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code } from "@connectrpc/connect";
import { caClient } from "../../src/identity/ca-client.ts";
import { systemClock } from "../../src/identity/clock.ts";
import { NodeCertificate } from "../../src/identity/node-certificate.ts";
import type { IssuedCertificate } from "../../src/identity/request-certificate.ts";
import { WORKLOAD_TYPE } from "../../src/xds/type-urls.ts";
import { RawAdsStream } from "../support/ads-stream.ts";
import { meshBinary } from "../support/binary.ts";
import { runOk } from "../support/command.ts";
import { BOOKINFO_YAML } from "../support/control-plane.ts";
import { eventually } from "../support/eventually.ts";
import { startMesh, type MeshProcess } from "../support/mesh-process.ts";
import { freePort } from "../support/ports.ts";
import { skipReason } from "../support/requirements.ts";

const skip = skipReason("node certificate revocation", { commands: ["openssl"] });

let dir: string;
let cp: MeshProcess;
let apiPort: number;
let xdsPort: number;
let serverCa: string;
const streams: RawAdsStream[] = [];

const xdsUrl = () => `https://127.0.0.1:${xdsPort}`;
const adminTokenFile = () => join(dir, "cp", "admin-token");

async function api(path: string, body: string, contentType = "application/json"): Promise<Record<string, unknown>> {
  const res = await fetch(`http://127.0.0.1:${apiPort}${path}`, { method: "POST", body, headers: { authorization: `Bearer ${readFileSync(adminTokenFile(), "utf8").trim()}`, "content-type": contentType } });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as Record<string, unknown>;
}

/** A node token for `node` and the node certificate the CA issues against it. */
async function nodeCredentials(node: string, ttl: string): Promise<{ token: string; expiresAt: string; cert: IssuedCertificate }> {
  const minted = await api("/api/v1/tokens", JSON.stringify({ node, ttl }));
  const token = minted.token as string;
  const cert = await new NodeCertificate({ node, signer: caClient({ server: xdsUrl(), token: () => token, tls: { ca: serverCa } }), clock: systemClock }).get();
  return { token, expiresAt: minted.expiresAt as string, cert };
}

/** An xDS stream for `node` authenticated by `cert` alone (no token), as a ztunnel over TLS opens it. */
function certificateStream(node: string, cert: IssuedCertificate): RawAdsStream {
  const s = new RawAdsStream(xdsUrl(), undefined, { ca: serverCa, cert: cert.chain.join("\n"), key: cert.keyPem });
  streams.push(s);
  s.send({ node: { id: node, cluster: "ztunnel" }, typeUrl: WORKLOAD_TYPE });
  return s;
}

async function connected(node: string, cert: IssuedCertificate): Promise<RawAdsStream> {
  const s = certificateStream(node, cert);
  await eventually(() => expect(s.received.length).toBeGreaterThan(0), { timeoutMs: 10_000 });
  return s;
}

beforeAll(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), "mesh-attack-node-cert-"));
  await runOk(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", join(dir, "xds.key"), "-out", join(dir, "xds.pem"), "-days", "1", "-subj", "/CN=mesh-xds", "-addext", "subjectAltName=IP:127.0.0.1"]);
  serverCa = readFileSync(join(dir, "xds.pem"), "utf8");
  [apiPort, xdsPort] = [await freePort(), await freePort()];
  cp = startMesh(["control-plane", "--data-dir", join(dir, "cp"), "--api-address", `127.0.0.1:${apiPort}`, "--xds-address", `127.0.0.1:${xdsPort}`, "--xds-tls-cert", join(dir, "xds.pem"), "--xds-tls-key", join(dir, "xds.key")]);
  await cp.waitForLog((l) => l.msg === "control plane started", "control plane started", 20_000);
  await api("/api/v1/apply", BOOKINFO_YAML, "application/yaml");
}, 60_000);

afterAll(async () => {
  if (skip) return;
  for (const s of streams) s.close();
  await cp?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(skip !== null)("attack: a revoked node keeps authenticating xDS with its node certificate", () => {
  test("mesh token revoke ends the node certificate's live stream within seconds, and the certificate is refused after", async () => {
    const victim = await nodeCredentials("node-2", "1h");
    const bystander = await nodeCredentials("node-1", "1h");
    const stream = await connected("node-2", victim.cert);
    const other = await connected("node-1", bystander.cert);

    const revokedAt = Date.now();
    await runOk([meshBinary(), "token", "revoke", "--node", "node-2", "--server", `http://127.0.0.1:${apiPort}`, "--admin-token-file", adminTokenFile()]);
    await eventually(() => expect(stream.ended).toBeDefined(), { timeoutMs: 8000 });
    const ms = Date.now() - revokedAt;
    console.log(`node certificate stream ended ${ms} ms after mesh token revoke was started`);
    expect(ms).toBeLessThan(5000); // the CLI's own start-up included
    expect(stream.ended).toEqual({ code: String(Code.Unauthenticated), message: expect.stringMatching(/^node certificate refused: node token refused: revoked \(id [0-9a-f-]+\)$/) });

    // A new stream with the same certificate is refused; node-1's certificate stream is untouched.
    const again = certificateStream("node-2", victim.cert);
    await eventually(() => expect(again.ended).toBeDefined(), { timeoutMs: 8000 });
    expect(again.ended?.code).toBe(String(Code.Unauthenticated));
    expect(again.received).toHaveLength(0);
    expect(other.ended).toBeUndefined();
    const fresh = certificateStream("node-1", bystander.cert);
    await eventually(() => expect(fresh.received.length).toBeGreaterThan(0), { timeoutMs: 10_000 });
  }, 60_000);

  test("a node certificate stops authenticating when the token it was issued against expires", async () => {
    const short = await nodeCredentials("node-3", "3s");
    const stream = await connected("node-3", short.cert);
    // The token's exp claim is whole seconds; the certificate itself is valid for 24 h.
    const expiresAt = Math.floor(Date.parse(short.expiresAt) / 1000) * 1000;
    expect(short.cert.notAfter.getTime() - Date.now()).toBeGreaterThan(3600_000);
    await eventually(() => expect(stream.ended).toBeDefined(), { timeoutMs: 15_000, intervalMs: 100 });
    const late = Date.now() - expiresAt;
    console.log(`node certificate stream ended ${late} ms after its token's expiry`);
    expect(late).toBeLessThan(7000); // the 5 s recheck interval, plus slack
    expect(stream.ended).toEqual({ code: String(Code.Unauthenticated), message: "node certificate refused: node token refused: expired" });
    const again = certificateStream("node-3", short.cert);
    await eventually(() => expect(again.ended?.code).toBe(String(Code.Unauthenticated)), { timeoutMs: 8000 });
  }, 60_000);
});
