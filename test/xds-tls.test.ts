/**
 * xDS over TLS with client certificates: a control plane with an xDS server certificate, and
 * proxies that authenticate either with their node certificate from the mesh CA (issued against
 * the node token, URI SAN urn:mesh:node:<node>) or with their node token. A workload certificate
 * authenticates nothing on the xDS port (issue 14 #9). Certificates are made here: the server's
 * with openssl (an IP SAN for 127.0.0.1), the node's and the workload's by the control plane's own
 * CA, a foreign one by a throwaway CA.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http2 from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RunningControlPlane } from "../src/controlplane/server.ts";
import { caClient } from "../src/identity/ca-client.ts";
import { CertificateManager, type WorkloadCertificate } from "../src/identity/cert-manager.ts";
import { systemClock } from "../src/identity/clock.ts";
import { NodeCertificate } from "../src/identity/node-certificate.ts";
import type { IssuedCertificate } from "../src/identity/request-certificate.ts";
import { createLogControl } from "../src/telemetry/log.ts";
import { XdsClient } from "../src/xds/client.ts";
import { WAYPOINT_CONFIG_TYPE } from "../src/xds/type-urls.ts";
import { WAYPOINT_DECODERS } from "../src/xds/waypoint-wire.ts";
import { runOk } from "./support/command.ts";
import { applyAndWait, BOOKINFO_YAML, startTestControlPlane, WAYPOINT_YAML } from "./support/control-plane.ts";
import { eventually } from "./support/eventually.ts";
import { createTestPki } from "./support/pki.ts";
import { skipReason } from "./support/requirements.ts";

const skip = skipReason("xDS over TLS", { commands: ["openssl"] });
const logs = createLogControl({ format: "text", spec: "off" });

let dir: string;
let cp: RunningControlPlane;
let serverCa: string;
let waypointCert: WorkloadCertificate;
let node2Cert: IssuedCertificate;
const clients: XdsClient[] = [];

function client(node: string, options: { cert?: { chain: readonly string[]; keyPem: string }; token?: string }): XdsClient {
  const c = new XdsClient({
    server: `https://127.0.0.1:${cp.xdsAddress.port}`,
    node,
    role: "waypoint",
    decoders: WAYPOINT_DECODERS,
    log: logs.logger("xds"),
    tls: { ca: serverCa, ...(options.cert ? { cert: options.cert.chain.join("\n"), key: options.cert.keyPem } : {}) },
    ...(options.token ? { token: () => options.token as string } : {}),
    backoff: { initialMs: 50, maxMs: 200 },
  });
  clients.push(c);
  c.start();
  return c;
}

beforeAll(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), "mesh-xds-tls-"));
  await runOk(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", join(dir, "xds.key"), "-out", join(dir, "xds.pem"), "-days", "1", "-subj", "/CN=mesh-xds", "-addext", "subjectAltName=IP:127.0.0.1"]);
  serverCa = readFileSync(join(dir, "xds.pem"), "utf8");
  cp = await startTestControlPlane(join(dir, "cp"), { xdsTls: { cert: serverCa, key: readFileSync(join(dir, "xds.key"), "utf8") } });
  await applyAndWait(cp, `${BOOKINFO_YAML}\n---\n${WAYPOINT_YAML}`);
  // The waypoint replica's workload certificate, from the mesh CA (asked for with node-2's token, as a ztunnel would).
  const token = (await cp.tokens.mint("node-2", 3600_000)).token;
  const certs = new CertificateManager({ signer: caClient({ server: `https://127.0.0.1:${cp.xdsAddress.port}`, token: () => token, tls: { ca: serverCa } }), clock: systemClock, log: logs.logger("certs") });
  waypointCert = await certs.get({ trustDomain: "cluster.local", namespace: "bookinfo", serviceAccount: "waypoint" });
  certs.close();
  node2Cert = await new NodeCertificate({ node: "node-2", signer: caClient({ server: `https://127.0.0.1:${cp.xdsAddress.port}`, token: () => token, tls: { ca: serverCa } }), clock: systemClock }).get();
});

afterAll(async () => {
  if (skip) return;
  for (const c of clients) await c.stop();
  await cp?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(skip !== null)("xDS over TLS with client certificates", () => {
  test("the node certificate authenticates the stream for its node, without a token", async () => {
    const c = client("node-2", { cert: node2Cert });
    await c.synced();
    expect([...c.resources(WAYPOINT_CONFIG_TYPE).keys()]).toEqual(["bookinfo/waypoint"]);
  });

  test("the node certificate cannot speak for another node", async () => {
    const c = client("node-1", { cert: node2Cert });
    await eventually(() => expect(c.lastError ?? "").toContain("the node certificate is for node node-2, not node-1"));
    expect(c.connected).toBe(false);
  });

  test("a workload certificate authenticates no node, not even the one its workload runs on (issue 14 #9)", async () => {
    const c = client("node-2", { cert: waypointCert });
    await eventually(() => expect(c.lastError ?? "").toContain("is not a node certificate"));
    expect(c.connected).toBe(false);
  });

  test("the CA signs a node certificate only for the token's own node, and not against a node certificate", async () => {
    const node1 = (await cp.tokens.mint("node-1", 3600_000)).token;
    const asNode1 = caClient({ server: `https://127.0.0.1:${cp.xdsAddress.port}`, token: () => node1, tls: { ca: serverCa } });
    await expect(new NodeCertificate({ node: "node-2", signer: asNode1, clock: systemClock }).get()).rejects.toThrow("node node-1 cannot have the node certificate of node-2");
    const withCertOnly = caClient({ server: `https://127.0.0.1:${cp.xdsAddress.port}`, token: () => "", tls: { ca: serverCa, cert: node2Cert.chain.join("\n"), key: node2Cert.keyPem } });
    await expect(new NodeCertificate({ node: "node-2", signer: withCertOnly, clock: systemClock }).get()).rejects.toThrow("issued against the node token");
  });

  test("a certificate from another CA counts for nothing: without a token the stream is refused", async () => {
    const foreign = await (await createTestPki()).issue("spiffe://cluster.local/ns/bookinfo/sa/waypoint");
    const c = client("node-2", { cert: foreign });
    await eventually(() => expect(c.lastError ?? "").toMatch(/token|unauthenticated/i));
    expect(c.connected).toBe(false);
  });

  test("a Connect-protocol request without credentials gets a Connect error, its body unread", async () => {
    const session = http2.connect(`https://127.0.0.1:${cp.xdsAddress.port}`, { ca: serverCa });
    session.on("error", () => {});
    try {
      const stream = session.request({ ":method": "POST", ":path": "/istio.v1.auth.IstioCertificateService/CreateCertificate", "content-type": "application/proto" });
      stream.on("error", () => {});
      const status = new Promise<number>((resolve) => stream.once("response", (h) => resolve(Number(h[":status"]))));
      let body = "";
      stream.setEncoding("utf8").on("data", (d: string) => (body += d));
      const ended = new Promise((resolve) => stream.once("close", resolve));
      stream.write(new Uint8Array(1024));
      expect(await status).toBe(401);
      await ended;
      expect(JSON.parse(body)).toEqual({ code: "unauthenticated", message: expect.stringContaining("no credentials") });
    } finally {
      session.destroy();
    }
  });

  test("without a certificate the node token still works over TLS", async () => {
    const c = client("node-2", { token: (await cp.tokens.mint("node-2", 3600_000)).token });
    await c.synced();
    expect(c.resources(WAYPOINT_CONFIG_TYPE).size).toBe(1);
  });
});
