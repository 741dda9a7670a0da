import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import type net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import { runOk } from "../../../test/support/command.ts";
import { isMeshError } from "../../errors/mesh-error.ts";
import { createCsr, generateWorkloadKey } from "../../identity/x509/csr.ts";
import { exportPrivateKeyPem } from "../../identity/x509/keys.ts";
import { DEFAULT_CA_SETTINGS, inspectCsr, signFor, type CaMaterial, type CaSettings } from "./authority.ts";
import { loadOrCreateRoot, loadPluginCa } from "./material.ts";
import { fileSecrets } from "./secrets.ts";

const dir = mkdtempSync(join(tmpdir(), "mesh-ca-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const settings: CaSettings = { ...DEFAULT_CA_SETTINGS, trustDomain: "cluster.local" };
const NOW = new Date();

async function workloadCert(material: CaMaterial, spiffeId: string, now = new Date()) {
  const keys = await generateWorkloadKey();
  const issued = await signFor(material, settings, await inspectCsr(await createCsr(keys, spiffeId), settings), 0, now);
  return { ...issued, keyPem: await exportPrivateKeyPem(keys.privateKey) };
}

function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

async function refusal(p: Promise<unknown>, code: string, message: RegExp) {
  try {
    await p;
  } catch (err) {
    expect(isMeshError(err)).toBe(true);
    expect((err as { code: string }).code).toBe(code);
    expect(String((err as Error).message)).toMatch(message);
    return;
  }
  throw new Error("expected a refusal");
}

describe("certificate authority", () => {
  test("a generated root is kept in the data directory (key mode 0600) and reused", async () => {
    const secrets = fileSecrets(join(dir, "data"));
    const a = await loadOrCreateRoot(secrets, "cluster.local", NOW);
    const b = await loadOrCreateRoot(secrets, "cluster.local", NOW);
    expect(b.trustBundle).toEqual(a.trustBundle);
    expect(statSync(join(dir, "data/ca/root-key.pem")).mode & 0o777).toBe(0o600);
    const text = await runOk(["openssl", "x509", "-noout", "-text", "-in", join(dir, "data/ca/root-cert.pem")]);
    expect(text).toContain("CA:TRUE");
    expect(text).toContain("Certificate Sign");
    expect(text).toMatch(/Subject: O ?= ?cluster.local\n/);
  });

  test("leaves verify with openssl, carry only the URI SAN, and serve both TLS roles", async () => {
    const ca = await loadOrCreateRoot(fileSecrets(join(dir, "data")), "cluster.local", NOW);
    const now = new Date();
    const leaf = await workloadCert(ca, "spiffe://cluster.local/ns/bookinfo/sa/sleep", now);
    const root = file("root.pem", ca.trustBundle[0] as string);
    const leafFile = file("leaf.pem", leaf.chain[0] as string);
    expect((await runOk(["openssl", "verify", "-CAfile", root, "-purpose", "sslclient", leafFile])).trim()).toBe(`${leafFile}: OK`);
    expect((await runOk(["openssl", "verify", "-CAfile", root, "-purpose", "sslserver", leafFile])).trim()).toBe(`${leafFile}: OK`);
    const text = await runOk(["openssl", "x509", "-noout", "-text", "-in", leafFile]);
    expect(text).toContain("URI:spiffe://cluster.local/ns/bookinfo/sa/sleep");
    expect(text).toContain("TLS Web Server Authentication, TLS Web Client Authentication");
    expect(text).toContain("CA:FALSE");
    expect(text).toMatch(/Subject: *\n/);
    expect(leaf.chain).toHaveLength(2);
    expect(leaf.notAfter.getTime() - now.getTime()).toBe(24 * 3600_000);
  });

  test("two issued identities complete a TLS 1.3 mutual handshake and see each other's SPIFFE id", async () => {
    const ca = await loadOrCreateRoot(fileSecrets(join(dir, "data")), "cluster.local", NOW);
    const client = await workloadCert(ca, "spiffe://cluster.local/ns/bookinfo/sa/sleep");
    const server = await workloadCert(ca, "spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage");
    const ctx = (c: typeof client) => ({ cert: c.chain[0] as string, key: c.keyPem, ca: ca.trustBundle as string[], minVersion: "TLSv1.3" as const });
    let seenByServer = "";
    const srv = tls.createServer({ ...ctx(server), requestCert: true, rejectUnauthorized: true }, (s) => {
      seenByServer = s.getPeerCertificate().subjectaltname ?? "";
      s.end("hello");
    });
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    try {
      const { port } = srv.address() as net.AddressInfo;
      const [seenByClient, protocol] = await new Promise<[string, string]>((resolve, reject) => {
        const s = tls.connect({ ...ctx(client), port, host: "127.0.0.1", checkServerIdentity: () => undefined }, () => {
          resolve([s.getPeerCertificate().subjectaltname ?? "", s.getProtocol() ?? ""]);
          s.on("data", () => s.end());
        });
        s.once("error", reject);
      });
      expect(protocol).toBe("TLSv1.3");
      expect(seenByClient).toBe("URI:spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage");
      await new Promise((r) => setTimeout(r, 50));
      expect(seenByServer).toBe("URI:spiffe://cluster.local/ns/bookinfo/sa/sleep");
    } finally {
      srv.close();
    }
  });

  test("a node CSR is a node subject; its certificate carries the node URI alone and names its token in the subject", async () => {
    const ca = await loadOrCreateRoot(fileSecrets(join(dir, "data")), "cluster.local", NOW);
    const inspected = await inspectCsr(await createCsr(await generateWorkloadKey(), "urn:mesh:node:node-7"), settings);
    expect(inspected.subject).toEqual({ kind: "node", node: "node-7" });
    await refusal(signFor(ca, settings, inspected, 0, NOW), "internal", /only against a node token/);
    const issued = await signFor(ca, settings, inspected, 0, NOW, "5b0c6f1e-0000-4000-8000-000000000007");
    const leaf = join(dir, "node-7.pem");
    writeFileSync(leaf, issued.chain[0] as string);
    const text = await runOk(["openssl", "x509", "-noout", "-ext", "subjectAltName", "-subject", "-nameopt", "RFC2253", "-in", leaf]);
    expect(text.trim().split("\n").map((l) => l.trim())).toEqual(["X509v3 Subject Alternative Name: critical", "URI:urn:mesh:node:node-7", "subject=CN=node-token:5b0c6f1e-0000-4000-8000-000000000007"]);
    // A workload certificate keeps the empty subject.
    const workload = await signFor(ca, settings, await inspectCsr(await createCsr(await generateWorkloadKey(), "spiffe://cluster.local/ns/a/sa/b"), settings), 0, NOW, "5b0c6f1e-0000-4000-8000-000000000007");
    writeFileSync(leaf, workload.chain[0] as string);
    expect((await runOk(["openssl", "x509", "-noout", "-subject", "-in", leaf])).trim()).toBe("subject=");
  });

  test("refuses what it must not sign", async () => {
    const ca = await loadOrCreateRoot(fileSecrets(join(dir, "data")), "cluster.local", NOW);
    const csrWith = async (keyArgs: string[], san: string) => {
      const key = join(dir, `k-${Math.random()}.pem`);
      await runOk(["openssl", ...keyArgs, "-out", key]);
      return runOk(["openssl", "req", "-new", "-key", key, "-subj", "/", "-addext", `subjectAltName=${san}`]);
    };
    const ec = ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"];
    await refusal(inspectCsr(await csrWith(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"], "URI:spiffe://cluster.local/ns/a/sa/b"), settings), "invalid_argument", /at least 2048 bits/);
    await refusal(inspectCsr(await csrWith(ec, "URI:spiffe://cluster.local/ns/a/sa/b,URI:spiffe://cluster.local/ns/a/sa/c"), settings), "invalid_argument", /exactly one URI SAN/);
    await refusal(inspectCsr(await csrWith(ec, "DNS:evil.example"), settings), "invalid_argument", /only URI/);
    await refusal(inspectCsr(await csrWith(ec, "URI:spiffe://other.domain/ns/a/sa/b"), settings), "permission_denied", /trust domain/);
    await refusal(inspectCsr(await csrWith(ec, "URI:https://example.com/"), settings), "invalid_argument", /SPIFFE/);
    await refusal(inspectCsr("not a csr", settings), "invalid_argument", /bad CSR/);
    await refusal(inspectCsr(await csrWith(ec, "URI:urn:mesh:node:Bad_Node"), settings), "invalid_argument", /not a node URI/);
    const good = await csrWith(ec, "URI:spiffe://cluster.local/ns/a/sa/b");
    const body = good.split("\n").filter((l) => !l.startsWith("-----")).join("");
    const raw = Buffer.from(body, "base64");
    raw[raw.length - 10] = (raw[raw.length - 10] as number) ^ 0xff; // flip a signature byte
    const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${raw.toString("base64")}\n-----END CERTIFICATE REQUEST-----\n`;
    await refusal(inspectCsr(tampered, settings), "invalid_argument", /signature|bad CSR/);
    // RSA 2048 is accepted.
    expect((await inspectCsr(await csrWith(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"], "URI:spiffe://cluster.local/ns/a/sa/b"), settings)).uri).toBe("spiffe://cluster.local/ns/a/sa/b");
    const inspected = await inspectCsr(good, settings);
    await refusal(signFor(ca, settings, inspected, 8 * 24 * 3600_000, NOW), "invalid_argument", /above the maximum/);
  });

  test("plug-in CA: leaves chain to the operator's root through its intermediate; a mismatched key is refused", async () => {
    const o = (...args: string[]) => runOk(["openssl", ...args]);
    const p = (n: string) => join(dir, n);
    await o("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", p("op-root.key"), "-out", p("op-root.pem"), "-subj", "/O=operator/CN=root", "-days", "30", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
    await o("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", p("op-int.key"));
    await o("req", "-new", "-key", p("op-int.key"), "-subj", "/O=operator/CN=intermediate", "-out", p("op-int.csr"));
    writeFileSync(p("ext.cnf"), "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n");
    await o("x509", "-req", "-in", p("op-int.csr"), "-CA", p("op-root.pem"), "-CAkey", p("op-root.key"), "-CAcreateserial", "-out", p("op-int.pem"), "-days", "20", "-extfile", p("ext.cnf"));
    const ca = await loadPluginCa({ certFile: p("op-int.pem"), keyFile: p("op-int.key"), chainFile: p("op-root.pem") });
    const leaf = await workloadCert(ca, "spiffe://cluster.local/ns/a/sa/b");
    expect(leaf.chain).toHaveLength(3);
    writeFileSync(p("leaf.pem"), leaf.chain[0] as string);
    writeFileSync(p("untrusted.pem"), leaf.chain[1] as string);
    expect((await o("verify", "-CAfile", p("op-root.pem"), "-untrusted", p("untrusted.pem"), p("leaf.pem"))).trim()).toEndWith("OK");
    // The trust bundle is the operator's root, not the intermediate.
    writeFileSync(p("bundle.pem"), ca.trustBundle.join(""));
    const fingerprint = async (f: string) => (await o("x509", "-noout", "-fingerprint", "-sha256", "-in", f)).trim();
    expect(ca.trustBundle).toHaveLength(1);
    expect(await fingerprint(p("bundle.pem"))).toBe(await fingerprint(p("op-root.pem")));
    // A leaf never outlives its signer (the intermediate lives 20 days).
    const long = await signFor(ca, settings, await inspectCsr(await createCsr(await generateWorkloadKey(), "spiffe://cluster.local/ns/a/sa/b"), settings), 7 * 24 * 3600_000, new Date(Date.now() + 19 * 24 * 3600_000));
    expect(long.notAfter.getTime()).toBeLessThanOrEqual(ca.signing.certificate.notAfter.value.getTime());
    await refusal(loadPluginCa({ certFile: p("op-int.pem"), keyFile: p("op-root.key"), chainFile: p("op-root.pem") }), "invalid_argument", /does not match/);
    await refusal(loadPluginCa({ certFile: p("leaf.pem"), keyFile: p("op-int.key") }), "invalid_argument", /not a CA certificate/);
  });
});
