/**
 * Attacks on the control plane's xDS/CA port (15012) by a client with no credentials, against
 * `dist/mesh control-plane` (TLS on xDS, run under a 2048 open-file limit so exhausting it is
 * quick), and what must hold meanwhile (issue 14 #2, #3, #9):
 * - thousands of idle plain-TCP and TLS connections from 100 loopback addresses, reopened as the
 *   server closes them: /healthz/ready, a ztunnel-style xDS stream (node certificate) and a CSR
 *   (node token) still answer, and the control plane's RSS stays under RSS_CAP;
 * - 100 unauthenticated streams each sending a 16 MiB first message: all refused (gRPC status
 *   16), and RSS grows by less than GROWTH_CAP;
 * - a workload certificate is refused on xDS; the node certificate is accepted.
 * Every loop is bounded in count and time; every connection and the process are closed at the end.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http2 from "node:http2";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import { caClient } from "../../src/identity/ca-client.ts";
import { CertificateManager } from "../../src/identity/cert-manager.ts";
import { systemClock } from "../../src/identity/clock.ts";
import { NodeCertificate } from "../../src/identity/node-certificate.ts";
import { createLogControl } from "../../src/telemetry/log.ts";
import { XdsClient } from "../../src/xds/client.ts";
import { DECODERS } from "../../src/xds/wire.ts";
import { runOk } from "../support/command.ts";
import { BOOKINFO_YAML } from "../support/control-plane.ts";
import { eventually } from "../support/eventually.ts";
import { startMesh, type MeshProcess } from "../support/mesh-process.ts";
import { freePort } from "../support/ports.ts";
import { skipReason } from "../support/requirements.ts";
import { MiB, openFiles, rssBytes, sampleRss } from "../support/rss.ts";

const skip = skipReason("xDS port attacks", { commands: ["openssl", "sh"] });
const logs = createLogControl({ format: "text", spec: "off" });

/** The control plane's open-file limit (soft and hard). */
const FD_LIMIT = 2048;
/** Attack connections held at once (more than FD_LIMIT) from this many source addresses. */
const FLOOD_CONNECTIONS = 3000;
const FLOOD_SOURCES = 100;
/** Upper bounds on the flood: connection attempts and wall time. */
const FLOOD_MAX_ATTEMPTS = 40_000;
const FLOOD_MAX_MS = 60_000;
/** The control plane's RSS may not pass this during the connection flood. */
const RSS_CAP = 200 * MiB;
/** Streams and first-message size of the large-message attack, and the RSS growth it may cause. */
const BIG_STREAMS = 100;
const BIG_MESSAGE = 16 * MiB;
const GROWTH_CAP = 96 * MiB;
const ADS_PATH = "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources";

let dir: string;
let cp: MeshProcess;
let apiPort: number;
let xdsPort: number;
let serverCa: string;
let node1Token: string;

const xdsUrl = () => `https://127.0.0.1:${xdsPort}`;
const signer = () => caClient({ server: xdsUrl(), token: () => node1Token, tls: { ca: serverCa } });

async function api(path: string, body: string, contentType = "application/json"): Promise<Response> {
  const adminToken = readFileSync(join(dir, "cp", "admin-token"), "utf8").trim();
  const res = await fetch(`http://127.0.0.1:${apiPort}${path}`, { method: "POST", body, headers: { authorization: `Bearer ${adminToken}`, "content-type": contentType } });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res;
}

beforeAll(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), "mesh-attack-15012-"));
  await runOk(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", join(dir, "xds.key"), "-out", join(dir, "xds.pem"), "-days", "1", "-subj", "/CN=mesh-xds", "-addext", "subjectAltName=IP:127.0.0.1"]);
  serverCa = readFileSync(join(dir, "xds.pem"), "utf8");
  [apiPort, xdsPort] = [await freePort(), await freePort()];
  cp = startMesh(
    ["control-plane", "--data-dir", join(dir, "cp"), "--api-address", `127.0.0.1:${apiPort}`, "--xds-address", `127.0.0.1:${xdsPort}`, "--xds-tls-cert", join(dir, "xds.pem"), "--xds-tls-key", join(dir, "xds.key")],
    { fdLimit: FD_LIMIT },
  );
  await cp.waitForLog((l) => l.msg === "control plane started", "control plane started", 20_000);
  await api("/api/v1/apply", BOOKINFO_YAML, "application/yaml");
  node1Token = ((await (await api("/api/v1/tokens", JSON.stringify({ node: "node-1", ttl: "1h" }))).json()) as { token: string }).token;
}, 60_000);

afterAll(async () => {
  if (skip) return;
  await cp?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Keeps up to `target` idle connections open from `sources`, reopening what the server closes, until stopped or bounded out. */
function flood(options: { target: number; sources: readonly string[] }) {
  const sockets = new Set<net.Socket>();
  let attempts = 0;
  let stopped = false;
  let connecting = 0;
  const started = Date.now();
  const pump = () => {
    while (!stopped && connecting < 64 && sockets.size < options.target && attempts < FLOOD_MAX_ATTEMPTS && Date.now() - started < FLOOD_MAX_MS) {
      const source = options.sources[attempts % options.sources.length] as string;
      // Every other connection completes a TLS handshake (ALPN h2, no client certificate) and then says nothing.
      const socket = attempts % 2 === 0 ? net.connect({ port: xdsPort, host: "127.0.0.1", localAddress: source }) : tls.connect({ port: xdsPort, host: "127.0.0.1", localAddress: source, ca: serverCa, ALPNProtocols: ["h2"] });
      attempts++;
      connecting++;
      sockets.add(socket);
      let settled = false;
      const settle = () => {
        if (settled) return;
        settled = true;
        connecting--;
      };
      // A connection the server never answers (it ran out of descriptors) is given up after a while, and another is tried.
      const giveUp = setTimeout(() => socket.destroy(), 3000);
      socket.once(socket instanceof tls.TLSSocket ? "secureConnect" : "connect", () => (clearTimeout(giveUp), settle(), pump()));
      socket.on("error", () => {});
      socket.once("close", () => {
        clearTimeout(giveUp);
        settle();
        sockets.delete(socket);
        setImmediate(pump);
      });
    }
  };
  pump();
  return {
    get attempts() {
      return attempts;
    },
    stop() {
      stopped = true;
      for (const s of sockets) s.destroy();
    },
  };
}

describe.skipIf(skip !== null)("attack: the xDS/CA port without credentials", () => {
  test(
    "thousands of idle plain and TLS connections: health, a node's xDS stream and a CSR still answer; RSS under the cap",
    async () => {
      const sources = Array.from({ length: FLOOD_SOURCES }, (_, i) => `127.2.${Math.floor(i / 250)}.${(i % 250) + 1}`);
      const rss = sampleRss(cp.proc.pid as number);
      const attack = flood({ target: FLOOD_CONNECTIONS, sources });
      let xds: XdsClient | undefined;
      try {
        // Well past the fd limit: without the guard the control plane holds them all and runs out.
        await eventually(() => expect(attack.attempts).toBeGreaterThanOrEqual(FD_LIMIT + 500), { timeoutMs: 30_000, what: "the flood to pass the fd limit" });
        const health = await fetch(`http://127.0.0.1:${apiPort}/healthz/ready`, { signal: AbortSignal.timeout(10_000) });
        expect(health.status).toBe(200);
        const csr = new CertificateManager({ signer: signer(), clock: systemClock, log: logs.logger("certs") });
        try {
          const cert = await csr.get({ trustDomain: "cluster.local", namespace: "bookinfo", serviceAccount: "sleep" });
          expect(cert.spiffeId).toBe("spiffe://cluster.local/ns/bookinfo/sa/sleep");
        } finally {
          csr.close();
        }
        const nodeCert = new NodeCertificate({ node: "node-1", signer: signer(), clock: systemClock });
        xds = new XdsClient({
          server: xdsUrl(),
          node: "node-1",
          role: "ztunnel",
          decoders: DECODERS,
          log: logs.logger("xds"),
          tls: { ca: serverCa },
          clientCertificate: async () => {
            const c = await nodeCert.get();
            return { cert: c.chain.join("\n"), key: c.keyPem };
          },
          backoff: { initialMs: 100, maxMs: 1000 },
        });
        xds.start();
        await xds.synced(20_000);
        expect(xds.connected).toBe(true);
        expect(attack.attempts).toBeLessThanOrEqual(FLOOD_MAX_ATTEMPTS);
        // The guard keeps the descriptors in use well below the limit while the flood goes on.
        const fds = openFiles(cp.proc.pid as number);
        console.log(`control plane open files during the flood: ${fds} (limit ${FD_LIMIT})`);
        expect(fds).toBeLessThan(FD_LIMIT / 2);
        // The control plane said what it could have and how many unauthenticated connections it allows.
        const limitLine = await cp.waitForLog((l) => l.msg === "open-file limit", "the fd limit log line");
        expect([limitLine.soft, limitLine.xdsUnauthenticatedConnections]).toEqual([FD_LIMIT, FD_LIMIT / 8]);
      } finally {
        attack.stop();
        await xds?.stop();
        const max = rss.stop();
        console.log(`flood: ${attack.attempts} connection attempts; control plane RSS max ${Math.round(max / MiB)} MiB (cap ${RSS_CAP / MiB} MiB)`);
        expect(max).toBeLessThan(RSS_CAP);
      }
    },
    120_000,
  );

  test(
    `${BIG_STREAMS} unauthenticated streams sending a ${BIG_MESSAGE / MiB} MiB first message are refused unread; RSS does not grow`,
    async () => {
      const before = rssBytes(cp.proc.pid as number);
      const rss = sampleRss(cp.proc.pid as number, 50);
      const chunk = new Uint8Array(256 * 1024);
      const sessions = Array.from({ length: 10 }, () => http2.connect(xdsUrl(), { ca: serverCa }));
      for (const s of sessions) s.on("error", () => {});
      try {
        const statuses = await Promise.all(
          Array.from({ length: BIG_STREAMS }, (_, i) =>
            new Promise<string>((resolve) => {
              const session = sessions[i % sessions.length] as http2.ClientHttp2Session;
              const stream = session.request({ ":method": "POST", ":path": ADS_PATH, "content-type": "application/grpc", te: "trailers" });
              let status = "none";
              const done = () => resolve(status);
              stream.on("response", (h) => (status = String(h["grpc-status"] ?? status)));
              stream.on("trailers", (h) => (status = String(h["grpc-status"] ?? status)));
              stream.on("error", () => {});
              stream.once("close", done);
              stream.resume();
              const header = new Uint8Array(5);
              new DataView(header.buffer).setUint32(1, BIG_MESSAGE);
              let sent = 0;
              // Write the message as fast as flow control lets us, until the server ends the stream.
              const onDrain = () => {
                while (sent < BIG_MESSAGE && !stream.destroyed && !stream.closed) {
                  sent += chunk.length;
                  if (!stream.write(chunk)) return void stream.once("drain", onDrain);
                }
                if (!stream.destroyed) stream.end();
              };
              if (stream.write(header)) onDrain();
              else stream.once("drain", onDrain);
              setTimeout(() => stream.destroy(), 20_000).unref();
            }),
          ),
        );
        expect(statuses).toEqual(Array(BIG_STREAMS).fill("16"));
      } finally {
        for (const s of sessions) s.destroy();
        const max = rss.stop();
        console.log(`large first messages: control plane RSS ${Math.round(before / MiB)} MiB before, max ${Math.round(max / MiB)} MiB during (growth cap ${GROWTH_CAP / MiB} MiB)`);
        expect(max - before).toBeLessThan(GROWTH_CAP);
      }
    },
    60_000,
  );

  test("a workload certificate is refused for xDS; the node certificate is accepted", async () => {
    const certs = new CertificateManager({ signer: signer(), clock: systemClock, log: logs.logger("certs") });
    const workload = await certs.get({ trustDomain: "cluster.local", namespace: "bookinfo", serviceAccount: "sleep" });
    certs.close();
    const node = await new NodeCertificate({ node: "node-1", signer: signer(), clock: systemClock }).get();
    const client = (cert: { chain: readonly string[]; keyPem: string }) =>
      new XdsClient({ server: xdsUrl(), node: "node-1", role: "ztunnel", decoders: DECODERS, log: logs.logger("xds"), tls: { ca: serverCa, cert: cert.chain.join("\n"), key: cert.keyPem }, backoff: { initialMs: 100, maxMs: 500 } });
    const withWorkload = client(workload);
    const withNode = client(node);
    try {
      withWorkload.start();
      withNode.start();
      await withNode.synced(10_000);
      await eventually(() => expect(withWorkload.lastError ?? "").toContain("is not a node certificate"), { timeoutMs: 10_000 });
      expect(withWorkload.connected).toBe(false);
    } finally {
      await withWorkload.stop();
      await withNode.stop();
    }
  });
});
