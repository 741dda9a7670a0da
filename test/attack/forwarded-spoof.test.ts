/**
 * Attack (issue 14 #6): a forged `forwarded: for=` must not choose the source address that policy
 * and logs see. In-process and for real: a control plane (CA + xDS), node-2's ztunnel (SOCKS5 mode,
 * HBONE on productpage's own address) in front of an HTTP productpage, node-1's ztunnel for the
 * honest path, and an attacker holding notsleep's valid workload certificate from the mesh CA who
 * speaks HBONE itself with mesh's own client and writes sleep's address into `forwarded`. An
 * AuthorizationPolicy admits productpage's callers by ipBlocks (sleep's address only): sleep gets
 * in through its ztunnel; the attacker must be refused (401) and the refusal logged with the
 * connection's real address and the mismatch.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import { BOOKINFO_DEMO_YAML } from "../../src/cli/demo/manifests.ts";
import { socksGet } from "../../src/cli/demo/socks-get.ts";
import type { RunningControlPlane } from "../../src/controlplane/server.ts";
import { MeshError } from "../../src/errors/mesh-error.ts";
import { HbonePool } from "../../src/hbone/client.ts";
import { newTraceparent } from "../../src/hbone/headers.ts";
import { caClient } from "../../src/identity/ca-client.ts";
import { CertificateManager } from "../../src/identity/cert-manager.ts";
import { systemClock } from "../../src/identity/clock.ts";
import { bunRuntime } from "../../src/runtime/bun.ts";
import { createLogControl } from "../../src/telemetry/log.ts";
import { startZtunnel, type RunningZtunnel } from "../../src/ztunnel/ztunnel.ts";
import { applyAndWait, startTestControlPlane } from "../support/control-plane.ts";
import { eventually } from "../support/eventually.ts";
import { freePort } from "../support/ports.ts";

const SLEEP_ADDRESS = "127.0.1.10";
const NOTSLEEP = "spiffe://cluster.local/ns/bookinfo/sa/notsleep";
const PRODUCTPAGE = "spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage";
const BY_ADDRESS = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: productpage-from-sleep-address, namespace: bookinfo}
spec:
  selector: {matchLabels: {app: productpage}}
  action: ALLOW
  rules: [{from: [{source: {ipBlocks: ["${SLEEP_ADDRESS}/32"]}}]}]
`;

const quiet = createLogControl({ format: "text", spec: "off" });
const lines: Record<string, string[]> = { "node-1": [], "node-2": [] };
let dir: string;
let cp: RunningControlPlane;
let productpage: http.Server;
let hbonePort: number;
let certs: CertificateManager;
let attacker: HbonePool;
const zt: Record<string, RunningZtunnel> = {};

async function ztunnel(node: string, host: string): Promise<RunningZtunnel> {
  const token = (await cp.tokens.mint(node, 3600_000)).token;
  const logs = createLogControl({ format: "text", spec: "info", write: (l) => lines[node]?.push(l) });
  const z = await startZtunnel(
    {
      node,
      controlPlane: `http://127.0.0.1:${cp.xdsAddress.port}`,
      token: () => token,
      capture: "socks5",
      dataDir: join(dir, node),
      listen: {
        outbound: { host, port: 0 },
        inboundPlaintext: { host, port: 0 },
        hbone: { host, port: hbonePort },
        socks5: { host, port: 0 },
        dns: null,
        admin: { host, port: 0 },
        metrics: { host, port: 0 },
        readiness: { host, port: 0 },
      },
      hbonePort,
      drainTimeoutMs: 500,
      connectTimeoutMs: 2000,
    },
    bunRuntime,
    logs,
  );
  await eventually(async () => expect((await fetch(`http://${host}:${z.addresses.readiness?.port}/healthz/ready`)).status).toBe(200), { timeoutMs: 10_000 });
  return z;
}

/** One HTTP/1.1 GET through an open tunnel; resolves with the whole response. */
function getThrough(stream: Duplex): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    stream.setEncoding("utf8");
    stream.on("data", (d: string) => (text += d));
    stream.once("end", () => resolve(text));
    stream.once("error", reject);
    stream.end("GET / HTTP/1.1\r\nhost: productpage\r\nconnection: close\r\n\r\n");
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "mesh-attack-fwd-"));
  hbonePort = await freePort();
  cp = await startTestControlPlane(join(dir, "cp"));
  productpage = http.createServer((req, res) => res.end(`productpage says hello to ${req.socket.remoteAddress}\n`));
  await new Promise<void>((r) => productpage.listen(9080, "127.0.2.10", r));
  await applyAndWait(cp, `${BOOKINFO_DEMO_YAML}\n---\n${BY_ADDRESS}`);
  zt["node-1"] = await ztunnel("node-1", "127.0.0.11");
  zt["node-2"] = await ztunnel("node-2", "127.0.0.12");
  // The attacker: notsleep's own, valid certificate, issued by the mesh CA to node-1's token.
  const token = (await cp.tokens.mint("node-1", 3600_000)).token;
  certs = new CertificateManager({ signer: caClient({ server: `http://127.0.0.1:${cp.xdsAddress.port}`, token: () => token }), clock: systemClock, log: quiet.logger("certs") });
  attacker = new HbonePool({ log: quiet.logger("attacker"), connectTimeoutMs: 3000 });
});

afterAll(async () => {
  attacker?.close();
  certs?.close();
  await Promise.all(Object.values(zt).map((z) => z.drain(200)));
  productpage?.close();
  await cp?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("attack: a forged forwarded: for= (issue 14 #6)", () => {
  test("sleep, whose own certificate vouches for its address, passes the ipBlocks policy through its ztunnel", async () => {
    const got = await socksGet({ from: SLEEP_ADDRESS, socks: { host: "127.0.0.11", port: zt["node-1"]?.addresses.socks5?.port as number }, host: "productpage.bookinfo", port: 9080 });
    expect(got).toMatchObject({ kind: "response", status: 200 });
    await eventually(() => expect(lines["node-2"]?.find((l) => l.includes("connection complete") && l.includes(`src.addr=${SLEEP_ADDRESS}:`))).toBeDefined());
  });

  test("notsleep's certificate with sleep's address in forwarded is judged by the connection's own address: refused (401), mismatch logged", async () => {
    const cert = await certs.get({ trustDomain: "cluster.local", namespace: "bookinfo", serviceAccount: "notsleep" });
    const credentials = { spiffeId: cert.spiffeId, version: "attack", chain: cert.chain, keyPem: cert.keyPem, roots: cp.ca.material.trustBundle };
    const forged = { address: SLEEP_ADDRESS, port: 4242 };
    let outcome: string;
    try {
      const stream = await attacker.open(credentials, {
        hbone: { address: "127.0.2.10", port: hbonePort },
        expectedIdentity: PRODUCTPAGE,
        connect: { target: { address: "127.0.2.10", port: 9080 }, source: forged, baggage: {}, traceparent: newTraceparent() },
      });
      outcome = `tunnel opened: ${(await getThrough(stream)).split("\r\n")[0]}`;
    } catch (err) {
      outcome = `refused: ${MeshError.from(err).code}`;
    }
    expect(outcome).toBe("refused: permission_denied");
    await eventually(() => {
      const refusal = lines["node-2"]?.find((l) => l.includes(`src.identity=${NOTSLEEP}`) && l.includes("policy"));
      expect(refusal).toBeDefined();
      expect(refusal).not.toContain(`src.addr=${SLEEP_ADDRESS}:`);
      expect(refusal).not.toContain("src.workload=sleep");
      expect(lines["node-2"]?.find((l) => l.includes("forwarded source not believed") && l.includes(`forwarded for=${SLEEP_ADDRESS}:4242`))).toBeDefined();
    });
  });
});
