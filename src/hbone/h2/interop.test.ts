/**
 * Interop over real mutual TLS on 127.0.0.1: the lean HTTP/2 client and server against
 * node:http2 (as this runtime ships it) and against each other, carrying HBONE-style CONNECT
 * tunnels: bytes both ways, half-close, refusals, large transfers past every window, and 64
 * parallel streams of 1 MiB.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import type { Duplex } from "node:stream";
import { eventually } from "../../../test/support/eventually.ts";
import { createTestPki } from "../../../test/support/pki.ts";
import { connectClient, SINK_PORT, SOURCE_PORT, startServer, type Impl, type TestClient, type TestServer, type TlsMaterial } from "./tunnel.test-support.ts";

let material: TlsMaterial;

beforeAll(async () => {
  const pki = await createTestPki();
  const server = await pki.issue("spiffe://cluster.local/ns/default/sa/server");
  const client = await pki.issue("spiffe://cluster.local/ns/default/sa/client");
  material = { serverCert: server.chain.join("\n"), serverKey: server.keyPem, clientCert: client.chain.join("\n"), clientKey: client.keyPem, ca: pki.roots };
});

function collect(stream: Duplex): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    stream.on("data", (d: Buffer) => parts.push(d));
    stream.once("end", () => resolve(Buffer.concat(parts)));
    stream.once("error", reject);
  });
}

/** Count what a stream delivers without keeping it. */
function drain(stream: Duplex): Promise<{ bytes: number; sha: string }> {
  return new Promise((resolve, reject) => {
    let bytes = 0;
    const h = createHash("sha256");
    stream.on("data", (d: Buffer) => {
      bytes += d.length;
      h.update(d);
    });
    stream.once("end", () => resolve({ bytes, sha: h.digest("hex") }));
    stream.once("error", reject);
  });
}

const pairs: Array<[client: Impl, server: Impl]> = [
  ["lean", "node"],
  ["node", "lean"],
  ["lean", "lean"],
];

for (const [clientImpl, serverImpl] of pairs) {
  describe(`${clientImpl} client ↔ ${serverImpl} server`, () => {
    let server: TestServer;
    let client: TestClient;

    beforeAll(async () => {
      server = await startServer(serverImpl, material);
      client = connectClient(clientImpl, material, server.port);
    });

    afterAll(async () => {
      client.close();
      await server.close();
    });

    test("a tunnel carries bytes both ways and half-closes", async () => {
      const { status, stream } = await client.open("127.0.0.1:8080", { forwarded: 'for="10.0.1.10:41000"', baggage: "k8s.namespace.name=bookinfo", traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" });
      expect(status).toBe(200);
      const payload = randomBytes(1024 * 1024 + 17);
      const echoed = collect(stream);
      // Two writes then end(): END_STREAM after the data; the echo's END_STREAM closes the other half.
      stream.write(payload.subarray(0, 1000));
      stream.end(payload.subarray(1000));
      expect((await echoed).equals(payload)).toBe(true);
    });

    test("refusals come back with their status and the connection stays usable", async () => {
      for (const status of [400, 401, 503]) {
        const r = await client.open(`127.0.0.1:${status}`);
        expect(r.status).toBe(status);
        r.stream.resume();
      }
      const { status, stream } = await client.open("127.0.0.1:8080");
      expect(status).toBe(200);
      const back = collect(stream);
      stream.end("still here");
      expect((await back).toString()).toBe("still here");
    });

    test("64 MiB up and 64 MiB down on one tunnel each, past every window", async () => {
      const up = await client.open(`127.0.0.1:${SINK_PORT}`);
      const ended = new Promise<void>((resolve) => up.stream.once("end", resolve));
      up.stream.resume();
      const chunk = Buffer.alloc(256 * 1024, 1);
      for (let i = 0; i < 256; i++) if (!up.stream.write(chunk)) await new Promise((r) => up.stream.once("drain", r));
      up.stream.end();
      await ended;
      const down = await client.open(`127.0.0.1:${SOURCE_PORT}`, { "x-bytes": String(64 * 1024 * 1024) });
      down.stream.end();
      expect((await drain(down.stream)).bytes).toBe(64 * 1024 * 1024);
    });

    test("64 parallel streams of 1 MiB each, echoed intact", async () => {
      const payloads = Array.from({ length: 64 }, () => randomBytes(1024 * 1024));
      const results = await Promise.all(
        payloads.map(async (p) => {
          const { status, stream } = await client.open("127.0.0.1:8080");
          expect(status).toBe(200);
          const got = drain(stream);
          stream.end(p);
          return got;
        }),
      );
      results.forEach((r, i) => {
        expect(r.bytes).toBe(1024 * 1024);
        expect(r.sha).toBe(createHash("sha256").update(payloads[i] as Buffer).digest("hex"));
      });
    });

    if (serverImpl === "lean") {
      test("server close(): GOAWAY, the open tunnel finishes, then the connection ends", async () => {
        const c = connectClient(clientImpl, material, server.port);
        const { stream } = await c.open("127.0.0.1:8080");
        const conn = server.leanConnections.at(-1);
        expect(conn?.streamCount).toBe(1);
        conn?.close();
        const back = collect(stream);
        stream.end(Buffer.alloc(300_000, 3));
        expect((await back).length).toBe(300_000);
        await eventually(() => expect(conn?.closed).toBe(true));
        c.close();
      });
    }

    test("back-to-back bulk tunnels on one connection never stall", async () => {
      for (let i = 0; i < 20; i++) {
        const { stream } = await client.open("127.0.0.1:8080");
        const got = drain(stream);
        stream.end(Buffer.alloc(1024 * 1024, i));
        expect((await got).bytes).toBe(1024 * 1024);
      }
    });
  });
}
