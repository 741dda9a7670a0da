import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import net from "node:net";
import tls from "node:tls";
import http2 from "node:http2";
import { createLogControl } from "../telemetry/log.ts";
import { createTestPki, type TestLeaf, type TestPki } from "../../test/support/pki.ts";
import { HbonePool, type ClientCredentials } from "./client.ts";
import { HboneServer, type InboundTunnel } from "./server.ts";
import { splice } from "../net/splice.ts";
import type { MeshError } from "../errors/mesh-error.ts";
import { newTraceparent } from "./headers.ts";
import { roundTrip } from "./round-trip.test-support.ts";

const log = createLogControl({ format: "text", spec: "off" }).logger("hbone");
const SERVER_ID = "spiffe://cluster.local/ns/bookinfo/sa/productpage";
const CLIENT_ID = "spiffe://cluster.local/ns/bookinfo/sa/sleep";

let pki: TestPki;
let serverLeaf: TestLeaf;
let clientLeaf: TestLeaf;
let echo: net.Server;
let echoPort: number;
let hboneListener: net.Server;
let hbonePort: number;
let server: HboneServer;
const seen: InboundTunnel[] = [];
let decide: (t: InboundTunnel) => MeshError | null = () => null;

const creds = (leaf: TestLeaf, roots = pki.roots): ClientCredentials => ({ spiffeId: leaf.spiffeId, version: leaf.chain[0] as string, chain: leaf.chain, keyPem: leaf.keyPem, roots });

beforeAll(async () => {
  pki = await createTestPki();
  serverLeaf = await pki.issue(SERVER_ID);
  clientLeaf = await pki.issue(CLIENT_ID);
  echo = net.createServer((s) => s.pipe(s));
  await new Promise<void>((r) => echo.listen(0, "127.0.0.1", r));
  echoPort = (echo.address() as net.AddressInfo).port;
  const ctx = tls.createSecureContext({ cert: serverLeaf.chain.join("\n"), key: serverLeaf.keyPem, ca: [...pki.roots], minVersion: "TLSv1.3" });
  server = new HboneServer({
    log,
    secureContextFor: () => ctx,
    onTunnel: (t) => {
      seen.push(t);
      const refusal = decide(t);
      if (refusal) return t.refuse(refusal);
      const upstream = net.connect(t.request.target.port, t.request.target.address);
      upstream.once("connect", () => splice(t.accept(), upstream, () => {}));
      upstream.once("error", () => t.refuse({ code: "unavailable" } as MeshError));
    },
  });
  hboneListener = net.createServer((s) => server.accept(s, { address: "127.0.0.1", port: hbonePort }, { address: s.remoteAddress ?? "", port: s.remotePort ?? 0 }));
  await new Promise<void>((r) => hboneListener.listen(0, "127.0.0.1", r));
  hbonePort = (hboneListener.address() as net.AddressInfo).port;
});

afterAll(async () => {
  await server.drain(100);
  hboneListener.close();
  echo.close();
});

const request = (port = echoPort, expectedIdentity = SERVER_ID) => ({
  hbone: { address: "127.0.0.1", port: hbonePort },
  expectedIdentity,
  connect: { target: { address: "127.0.0.1", port }, source: { address: "10.0.1.10", port: 41000 }, baggage: { "k8s.namespace.name": "bookinfo" }, traceparent: newTraceparent() },
});


describe("HBONE client and server", () => {
  test("a tunnel carries bytes both ways; the server sees the client identity and headers", async () => {
    const pool = new HbonePool({ log });
    const stream = await pool.open(creds(clientLeaf), request());
    const payload = Buffer.alloc(256 * 1024, 7);
    expect((await roundTrip(stream, payload)).equals(payload)).toBe(true);
    const t = seen.at(-1) as InboundTunnel;
    expect(t.peerIdentity).toBe(CLIENT_ID);
    expect(t.request.forwardedFor).toEqual({ address: "10.0.1.10", port: 41000 });
    expect(t.request.baggage).toEqual({ "k8s.namespace.name": "bookinfo" });
    expect(t.request.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    pool.close();
  });

  test("streams share one connection up to the stream limit, then a second one opens", async () => {
    const pool = new HbonePool({ log, limits: { maxStreamsPerConnection: 3 } });
    const streams = await Promise.all(Array.from({ length: 5 }, () => pool.open(creds(clientLeaf), request())));
    expect(pool.stats()).toEqual({ connections: 2, streams: 5 });
    await Promise.all(streams.map((s) => roundTrip(s, Buffer.from("x"))));
    pool.close();
  });

  test("many back-to-back bulk tunnels on one connection never stall", async () => {
    const pool = new HbonePool({ log });
    const payload = Buffer.alloc(1024 * 1024, 1);
    for (let i = 0; i < 20; i++) {
      const got = await roundTrip(await pool.open(creds(clientLeaf), request()), payload);
      expect(got.length).toBe(payload.length);
    }
    expect(pool.stats().connections).toBe(1);
    pool.close();
  });

  test("a refusal comes back as the status's error code", async () => {
    const pool = new HbonePool({ log });
    decide = () => ({ code: "permission_denied" }) as MeshError;
    const err = await pool.open(creds(clientLeaf), request()).then(() => null, (e: MeshError) => e);
    decide = () => null;
    expect(err?.code).toBe("permission_denied");
    expect(err?.detail.status).toBe(401);
    // The connection survives a refused stream.
    expect((await roundTrip(await pool.open(creds(clientLeaf), request()), Buffer.from("ok"))).toString()).toBe("ok");
    pool.close();
  });

  test("unreachable upstream answers 503", async () => {
    const pool = new HbonePool({ log });
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const port = (closed.address() as net.AddressInfo).port;
    closed.close();
    const err = await pool.open(creds(clientLeaf), request(port)).then(() => null, (e: MeshError) => e);
    expect(err?.code).toBe("unavailable");
    expect(err?.detail.status).toBe(503);
    pool.close();
  });

  test("a server with another identity than expected is refused before any request", async () => {
    const pool = new HbonePool({ log });
    const before = seen.length;
    const err = await pool.open(creds(clientLeaf), request(echoPort, "spiffe://cluster.local/ns/bookinfo/sa/other")).then(() => null, (e: MeshError) => e);
    expect(err).not.toBeNull();
    expect(seen.length).toBe(before);
    pool.close();
  });

  test("a client from an untrusted CA, or with an expired certificate, never gets a stream", async () => {
    const other = await createTestPki();
    const foreign = await other.issue(CLIENT_ID);
    const expired = await pki.issue(CLIENT_ID, { notBefore: new Date(Date.now() - 7200_000), notAfter: new Date(Date.now() - 3600_000) });
    const before = seen.length;
    for (const c of [creds(foreign, [...other.roots, ...pki.roots]), creds(expired)]) {
      const pool = new HbonePool({ log, connectTimeoutMs: 3000 });
      const err = await pool.open(c, request()).then(() => null, (e: MeshError) => e);
      expect(err).not.toBeNull();
      pool.close();
    }
    expect(seen.length).toBe(before);
  });

  test("malformed CONNECT requests get 400 and leave the connection usable", async () => {
    const ctx = tls.createSecureContext({ cert: clientLeaf.chain.join("\n"), key: clientLeaf.keyPem, ca: [...pki.roots] });
    const session = http2.connect(`https://127.0.0.1:${hbonePort}`, { createConnection: () => tls.connect({ host: "127.0.0.1", port: hbonePort, secureContext: ctx, ALPNProtocols: ["h2"], checkServerIdentity: () => undefined }) });
    const status = (headers: http2.OutgoingHttpHeaders) =>
      new Promise<number>((resolve) => {
        const s = session.request(headers, { endStream: false });
        s.on("response", (h) => resolve(Number(h[":status"])));
        s.on("error", () => resolve(-1));
      });
    expect(await status({ ":method": "CONNECT", ":authority": "productpage:9080" })).toBe(400);
    expect(await status({ ":method": "CONNECT", ":authority": "127.0.0.1:0" })).toBe(400);
    expect(await status({ ":method": "CONNECT", ":authority": `127.0.0.1:${echoPort}`, forwarded: "for=nonsense" })).toBe(400);
    expect(await status({ ":method": "GET", ":path": "/" })).toBe(400);
    expect(await status({ ":method": "CONNECT", ":authority": `127.0.0.1:${echoPort}` })).toBe(200);
    session.destroy();
  });
});
