/**
 * The HBONE server against bad peers, each a real mTLS client on 127.0.0.1 speaking raw HTTP/2
 * frames (h2-frames.test-support.ts): rapid reset, SETTINGS and PING floods, stalled handshakes,
 * silent and idle connections, half-close, a client that never reads, too many streams, oversized
 * headers and too many connections. Every attack must be refused or bounded with a log line, and
 * a well-behaved tunnel (HbonePool, echo upstream) on another connection keeps carrying bytes
 * during and after it. Every loop has a count and a deadline.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import net from "node:net";
import tls from "node:tls";
import { createLogControl } from "../telemetry/log.ts";
import { createTestPki, type TestLeaf, type TestPki } from "../../test/support/pki.ts";
import { eventually } from "../../test/support/eventually.ts";
import { splice } from "../net/splice.ts";
import { MeshError } from "../errors/mesh-error.ts";
import { HbonePool, type ClientCredentials } from "./client.ts";
import { HboneServer, type InboundTunnel } from "./server.ts";
import { newTraceparent } from "./headers.ts";
import type { HboneLimits } from "./limits.ts";
import { roundTrip } from "./round-trip.test-support.ts";
import {
  ErrorCode,
  FrameType,
  RawH2Connection,
  dataFrame,
  errorCodeOf,
  frame,
  headersFrame,
  hpackBlock,
  pingFrame,
  rstStreamFrame,
  settingsFrame,
} from "./h2-frames.test-support.ts";

/** Tunnels to this port are never answered by the test's onTunnel (nothing is connected). */
const BLACKHOLE_PORT = 9;
const quiet = createLogControl({ format: "text", spec: "off" }).logger("hbone");
const SERVER_ID = "spiffe://cluster.local/ns/bookinfo/sa/productpage";
const CLIENT_ID = "spiffe://cluster.local/ns/bookinfo/sa/sleep";

/** Small enough that every timeout-driven test finishes in well under a second. */
const TEST_LIMITS = {
  handshakeTimeoutMs: 400,
  idleTimeoutMs: 600,
  maxStreamsPerConnection: 8,
  maxEarlyResets: 50,
  earlyResetMs: 200,
  maxControlFrames: 200,
  abuseWindowMs: 10_000,
} satisfies Partial<HboneLimits>;

let pki: TestPki;
let serverLeaf: TestLeaf;
let clientLeaf: TestLeaf;
let serverContext: tls.SecureContext;
let clientContext: tls.SecureContext;
let echo: net.Server;
let echoPort: number;
const echoSockets = new Set<net.Socket>();

beforeAll(async () => {
  pki = await createTestPki();
  serverLeaf = await pki.issue(SERVER_ID);
  clientLeaf = await pki.issue(CLIENT_ID);
  serverContext = tls.createSecureContext({ cert: serverLeaf.chain.join("\n"), key: serverLeaf.keyPem, ca: [...pki.roots], minVersion: "TLSv1.3" });
  clientContext = tls.createSecureContext({ cert: clientLeaf.chain.join("\n"), key: clientLeaf.keyPem, ca: [...pki.roots], minVersion: "TLSv1.3" });
  echo = await listen(
    net.createServer((s) => {
      echoSockets.add(s);
      s.once("close", () => echoSockets.delete(s));
      s.on("error", () => {});
      s.pipe(s);
    }),
  );
  echoPort = portOf(echo);
});

afterAll(() => {
  echo.close();
});

// ---------------------------------------------------------------------------------------------
// Harness: a server with recorded log lines, a steady tunnel, a raw attacker.

interface Harness {
  readonly server: HboneServer;
  readonly port: number;
  readonly lines: string[];
  readonly tunnels: InboundTunnel[];
  /** Upstream connections onTunnel opened that are not closed yet. */
  readonly upstreams: Set<net.Socket>;
  /** Tunnels that arrived on the connection whose client port is `port`. */
  tunnelsFrom(port: number): number;
  warned(pattern: RegExp): boolean;
  close(): Promise<void>;
}

async function startServer(limits: Partial<HboneLimits> = {}): Promise<Harness> {
  const lines: string[] = [];
  const log = createLogControl({ format: "text", spec: "debug", write: (l) => lines.push(l) }).logger("hbone");
  const tunnels: InboundTunnel[] = [];
  const upstreams = new Set<net.Socket>();
  const server = new HboneServer({
    log,
    limits: { ...TEST_LIMITS, ...limits },
    secureContextFor: () => serverContext,
    // What the ztunnel's inbound does: connect upstream (async), then answer and splice.
    onTunnel: (t) => {
      tunnels.push(t);
      if (t.request.target.port === BLACKHOLE_PORT) return; // never answered: an upstream that hangs
      const upstream = net.connect({ host: t.request.target.address, port: t.request.target.port, allowHalfOpen: true });
      upstreams.add(upstream);
      upstream.once("close", () => upstreams.delete(upstream));
      upstream.once("connect", () => splice(t.accept(), upstream, () => {}));
      upstream.once("error", (err) => t.refuse(new MeshError("unavailable", err.message)));
    },
  });
  let port = 0;
  const listener = await listen(net.createServer((s) => server.accept(s, { address: "127.0.0.1", port }, { address: s.remoteAddress ?? "", port: s.remotePort ?? 0 })));
  port = portOf(listener);
  return {
    server,
    port,
    lines,
    tunnels,
    upstreams,
    tunnelsFrom: (clientPort) => tunnels.filter((t) => t.peer.port === clientPort).length,
    warned: (pattern) => lines.some((l) => / warn /.test(l) && pattern.test(l)),
    close: async () => {
      await server.drain(50);
      listener.close();
    },
  };
}

const creds = (): ClientCredentials => ({ spiffeId: clientLeaf.spiffeId, version: "1", chain: clientLeaf.chain, keyPem: clientLeaf.keyPem, roots: pki.roots });

const tunnelRequest = (hbonePort: number, targetPort = echoPort) => ({
  hbone: { address: "127.0.0.1", port: hbonePort },
  expectedIdentity: SERVER_ID,
  connect: { target: { address: "127.0.0.1", port: targetPort }, source: { address: "10.0.1.10", port: 41000 }, baggage: {}, traceparent: newTraceparent() },
});

const connectHeaders = (targetPort = echoPort) => ({ ":method": "CONNECT", ":authority": `127.0.0.1:${targetPort}` });

/** A well-behaved client: one long-lived tunnel through its own pooled connection. */
interface Steady {
  /** Send 1 KiB and wait for the same bytes back. */
  exchange(): Promise<void>;
  /** Keep exchanging until `busy` settles (bounded); returns how many exchanges were done. */
  talkWhile(busy: Promise<unknown>): Promise<number>;
  close(): void;
}

async function steadyTunnel(h: Harness): Promise<Steady> {
  const pool = new HbonePool({ log: quiet });
  const stream = await pool.open(creds(), tunnelRequest(h.port));
  let received = Buffer.alloc(0);
  stream.on("data", (d: Buffer) => (received = Buffer.concat([received, d])));
  let seq = 0;
  const exchange = async () => {
    const payload = Buffer.alloc(1024, seq++ % 251);
    stream.write(payload);
    await eventually(
      () => {
        if (received.length < payload.length) throw new Error(`${received.length} of ${payload.length} bytes back`);
      },
      { timeoutMs: 3000, intervalMs: 5, what: "the steady tunnel's echo" },
    );
    const got = received.subarray(0, payload.length);
    received = received.subarray(payload.length);
    expect(got.equals(payload)).toBe(true);
  };
  return {
    exchange,
    talkWhile: async (busy) => {
      let done = false;
      void busy.finally(() => (done = true));
      let n = 0;
      const until = Date.now() + 10_000;
      do {
        await exchange();
        n++;
      } while (!done && n < 500 && Date.now() < until);
      return n;
    },
    close: () => pool.close(),
  };
}

/** A new client, new connection, new tunnel: it must work after every attack. */
async function freshTunnelWorks(h: Harness): Promise<void> {
  const pool = new HbonePool({ log: quiet });
  try {
    const stream = await pool.open(creds(), tunnelRequest(h.port));
    expect((await roundTrip(stream, Buffer.from("still here"))).toString()).toBe("still here");
  } finally {
    pool.close();
  }
}

function rawClient(h: Harness, options: { preface?: boolean; keep?: number } = {}): Promise<RawH2Connection> {
  return RawH2Connection.open({ host: "127.0.0.1", port: h.port, secureContext: clientContext, ...options });
}

/** Write `total` frames made by `make`, `batch` per write, until done, closed or past the deadline. */
async function flood(c: RawH2Connection, make: (i: number) => Buffer, o: { total: number; batch: number; deadlineMs: number }): Promise<number> {
  let sent = 0;
  const until = Date.now() + o.deadlineMs;
  while (sent < o.total && !c.closed && !c.socket.destroyed && Date.now() < until) {
    const parts: Buffer[] = [];
    for (let i = 0; i < o.batch && sent < o.total; i++) parts.push(make(sent++));
    await c.write(Buffer.concat(parts));
    await new Promise((r) => setImmediate(r));
  }
  return sent;
}

// ---------------------------------------------------------------------------------------------

describe("HBONE server under abuse", () => {
  test("rapid reset (CVE-2023-44487): the connection is closed after maxEarlyResets, upstreams do not pile up", async () => {
    const h = await startServer();
    const steady = await steadyTunnel(h);
    const maxEarlyResets = TEST_LIMITS.maxEarlyResets;
    const cpuBefore = process.cpuUsage();
    // Once with each HEADERS + RST_STREAM pair in its own write, once 100 pairs per write.
    for (const batch of [1, 100]) {
      const c = await rawClient(h);
      const attack = flood(c, (i) => Buffer.concat([headersFrame(1 + 2 * i, connectHeaders()), rstStreamFrame(1 + 2 * i, ErrorCode.CANCEL)]), { total: 5000, batch, deadlineMs: 5000 });
      expect(await steady.talkWhile(attack)).toBeGreaterThan(0);
      const sent = await attack;
      await eventually(() => expect(c.closed).toBe(true), { what: "the attacker's connection to be closed" });
      expect(c.goaway && errorCodeOf(c.goaway)).toBe(ErrorCode.ENHANCE_YOUR_CALM);
      expect(sent).toBeLessThan(5000);
      // onTunnel ran for at most the allowance plus what was already in flight.
      expect(h.tunnelsFrom(c.localPort)).toBeLessThanOrEqual(maxEarlyResets + batch + 1);
    }
    const cpu = process.cpuUsage(cpuBefore);
    expect((cpu.user + cpu.system) / 1000).toBeLessThan(5000);
    // The cancelled tunnels' upstream connections were all torn down; only the steady one is left.
    await eventually(() => expect(echoSockets.size).toBe(1), { what: "upstream connections of reset streams to close" });
    expect(h.warned(/hbone connection closed .*rapid reset/)).toBe(true);
    await steady.exchange();
    await freshTunnelWorks(h);
    steady.close();
    await h.close();
  });

  test("streams reset after they waited (a client's own timeout) are not taken for rapid reset", async () => {
    const maxEarlyResets = TEST_LIMITS.maxEarlyResets;
    const h = await startServer({ maxStreamsPerConnection: maxEarlyResets + 10 });
    const c = await rawClient(h);
    const ids = Array.from({ length: maxEarlyResets + 10 }, (_, i) => 1 + 2 * i);
    await c.write(Buffer.concat(ids.map((id) => headersFrame(id, connectHeaders(BLACKHOLE_PORT)))));
    await eventually(() => expect(h.tunnelsFrom(c.localPort)).toBe(ids.length));
    await new Promise((r) => setTimeout(r, TEST_LIMITS.earlyResetMs + 100));
    await c.write(Buffer.concat(ids.map((id) => rstStreamFrame(id))));
    const next = 1 + 2 * ids.length;
    await c.write(headersFrame(next, connectHeaders()));
    await eventually(() => expect(c.find((f) => f.type === FrameType.HEADERS && f.streamId === next)).toBeDefined(), { what: "an answer on the same connection" });
    expect(c.closed).toBe(false);
    expect(h.warned(/hbone connection closed/)).toBe(false);
    c.destroy();
    await h.close();
  });

  test("tunnels reset by the client after they were answered are normal, even 1200 on one connection", async () => {
    const h = await startServer({ maxStreamsPerConnection: 100 });
    const c = await rawClient(h, { keep: 5000 });
    let next = 1;
    for (let round = 0; round < 12 && !c.closed; round++) {
      const ids = Array.from({ length: 100 }, () => (next += 2) - 2);
      await c.write(Buffer.concat(ids.map((id) => headersFrame(id, connectHeaders()))));
      const last = ids.at(-1);
      await eventually(() => expect(c.find((f) => f.type === FrameType.HEADERS && f.streamId === last)).toBeDefined(), { what: `round ${round} answered` });
      await c.write(Buffer.concat(ids.map((id) => rstStreamFrame(id, ErrorCode.CANCEL))));
    }
    await c.write(headersFrame(next, connectHeaders()));
    await eventually(() => expect(c.find((f) => f.type === FrameType.HEADERS && f.streamId === next)).toBeDefined(), { what: "an answer after all the resets" });
    expect(c.closed).toBe(false);
    expect(h.tunnelsFrom(c.localPort)).toBe(1201);
    expect(h.warned(/hbone connection closed/)).toBe(false);
    c.destroy();
    await eventually(() => expect(h.upstreams.size).toBe(0), { what: "the tunnels' upstreams to close" });
    await h.close();
  });

  test("a stream reset while its upstream is still connecting: the upstream is torn down, nothing throws", async () => {
    const h = await startServer();
    const c = await rawClient(h);
    // Each reset is read with its HEADERS, before onTunnel's upstream connect completes.
    await c.write(Buffer.concat(Array.from({ length: 5 }, (_, i) => Buffer.concat([headersFrame(1 + 2 * i, connectHeaders()), rstStreamFrame(1 + 2 * i)]))));
    await eventually(() => expect(h.tunnelsFrom(c.localPort)).toBe(5));
    // accept() after the reset returned a stream that closed at once, so the splice closed the upstream.
    await eventually(() => expect(h.upstreams.size).toBe(0), { what: "upstreams of reset streams to close" });
    await eventually(() => expect(echoSockets.size).toBe(0), { what: "the echo server to see them close" });
    // The connection itself is fine.
    await c.write(headersFrame(11, connectHeaders()));
    await eventually(() => expect(c.find((f) => f.type === FrameType.HEADERS && f.streamId === 11)).toBeDefined());
    expect(c.closed).toBe(false);
    c.destroy();
    await h.close();
  });

  test("SETTINGS flood: closed after maxControlFrames with a log line, memory bounded", async () => {
    const h = await startServer();
    const steady = await steadyTunnel(h);
    const rssBefore = process.memoryUsage().rss;
    const c = await rawClient(h);
    const attack = flood(c, () => settingsFrame([[4, 65_535]]), { total: 100_000, batch: 100, deadlineMs: 5000 });
    expect(await steady.talkWhile(attack)).toBeGreaterThan(0);
    const sent = await attack;
    await eventually(() => expect(c.closed).toBe(true), { what: "the flooding connection to be closed" });
    expect(c.goaway && errorCodeOf(c.goaway)).toBe(ErrorCode.ENHANCE_YOUR_CALM);
    expect(sent).toBeLessThan(100_000);
    // Answers stop at the allowance (plus what was already queued).
    expect(c.count(FrameType.SETTINGS)).toBeLessThan(TEST_LIMITS.maxControlFrames + 200);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(64 * 1024 * 1024);
    expect(h.warned(/hbone connection closed .*SETTINGS\/PING/)).toBe(true);
    await steady.exchange();
    await freshTunnelWorks(h);
    steady.close();
    await h.close();
  });

  test("PING flood: closed after maxControlFrames; a peer that never reads the answers is bounded and closed too", async () => {
    const h = await startServer();
    const steady = await steadyTunnel(h);
    const rssBefore = process.memoryUsage().rss;
    for (const reads of [true, false]) {
      const c = await rawClient(h);
      if (!reads) c.socket.pause();
      const attack = flood(c, (i) => pingFrame(i), { total: 100_000, batch: 100, deadlineMs: 5000 });
      expect(await steady.talkWhile(attack)).toBeGreaterThan(0);
      const sentPings = await attack;
      // A peer that reads is cut off at the allowance. One that never reads stops its own flood:
      // the server's answers back up, so it stops reading that connection (TLS on Bun couples the
      // two), the pings stay in the kernel's buffers, and the connection goes at the idle deadline.
      if (reads) expect(sentPings).toBeLessThan(100_000);
      // Closed by the server: only the steady tunnel's connection is left.
      await eventually(() => expect(h.server.connections).toBe(1), { what: "the flooding connection to be closed" });
      if (reads) expect(c.count(FrameType.PING)).toBeLessThan(TEST_LIMITS.maxControlFrames + 200);
      c.destroy();
    }
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(64 * 1024 * 1024);
    expect(h.lines.filter((l) => / warn .*SETTINGS\/PING/.test(l)).length).toBeGreaterThanOrEqual(1);
    await steady.exchange();
    await freshTunnelWorks(h);
    steady.close();
    await h.close();
  });

  test("a few PINGs and SETTINGS below the allowance are answered and harmless", async () => {
    const h = await startServer();
    const c = await rawClient(h);
    const n = TEST_LIMITS.maxControlFrames / 4;
    await flood(c, (i) => (i % 2 ? pingFrame(i) : settingsFrame()), { total: n, batch: 10, deadlineMs: 2000 });
    await c.write(headersFrame(1, connectHeaders()));
    await eventually(() => expect(c.find((f) => f.type === FrameType.HEADERS && f.streamId === 1)).toBeDefined());
    expect(c.count(FrameType.PING)).toBe(n / 2);
    expect(c.closed).toBe(false);
    expect(h.warned(/hbone connection closed/)).toBe(false);
    c.destroy();
    await h.close();
  });

  test("slow clients: no TLS, a stalled handshake, or no request are closed at handshakeTimeoutMs", async () => {
    const h = await startServer();
    const steady = await steadyTunnel(h);
    const timeoutMs = TEST_LIMITS.handshakeTimeoutMs;
    const closedAfter = (socket: net.Socket | tls.TLSSocket) => {
      const start = Date.now();
      return new Promise<number>((resolve) => socket.once("close", () => resolve(Date.now() - start)));
    };
    // TCP only, not a byte of TLS.
    const silent = net.connect(h.port, "127.0.0.1");
    silent.on("error", () => {});
    // Half a ClientHello record, then nothing.
    const stalled = net.connect(h.port, "127.0.0.1", () => stalled.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03])));
    stalled.on("error", () => {});
    // TLS done, but no HTTP/2 preface; and TLS + preface + SETTINGS, but no stream.
    const noPreface = await rawClient(h, { preface: false });
    const noStream = await rawClient(h);
    const times = await Promise.all([closedAfter(silent), closedAfter(stalled), closedAfter(noPreface.socket), closedAfter(noStream.socket), steady.talkWhile(new Promise((r) => setTimeout(r, timeoutMs)))]);
    for (const t of times.slice(0, 4)) {
      expect(t).toBeGreaterThanOrEqual(timeoutMs * 0.75);
      expect(t).toBeLessThan(timeoutMs + 2000);
    }
    expect(h.lines.filter((l) => / warn .*hbone connection closed .*TLS handshake not finished within/.test(l)).length).toBe(2);
    expect(h.lines.filter((l) => / warn .*hbone connection closed .*no request within/.test(l)).length).toBe(2);
    await steady.exchange();
    await freshTunnelWorks(h);
    steady.close();
    await h.close();
  });

  test("half-close: the client ends its side, the upstream sees the end and its answer still comes back", async () => {
    const ends: number[] = [];
    const replier = await listen(
      net.createServer({ allowHalfOpen: true }, (s) => {
        let n = 0;
        s.on("error", () => {});
        s.on("data", (d: Buffer) => (n += d.length));
        s.once("end", () => {
          ends.push(n);
          s.end(`got ${n} bytes`);
        });
      }),
    );
    const h = await startServer();
    const pool = new HbonePool({ log: quiet });
    const stream = await pool.open(creds(), tunnelRequest(h.port, portOf(replier)));
    const answer = await roundTrip(stream, Buffer.alloc(10_000, 3));
    expect(ends).toEqual([10_000]);
    expect(answer.toString()).toBe("got 10000 bytes");
    pool.close();
    replier.close();
    await h.close();
  });

  test("idle: a connection without streams is closed after idleTimeoutMs even while it sends PINGs; one with a stream is not", async () => {
    const h = await startServer();
    const steady = await steadyTunnel(h);
    const idleMs = TEST_LIMITS.idleTimeoutMs;
    const c = await rawClient(h);
    // One short tunnel, ended from both sides.
    await c.write(Buffer.concat([headersFrame(1, connectHeaders()), dataFrame(1, Buffer.from("hi"), true)]));
    await eventually(() => expect(c.find((f) => f.streamId === 1 && (f.flags & 0x1) !== 0)).toBeDefined(), { what: "the tunnel to end" });
    const start = Date.now();
    for (let i = 0; i < 50 && !c.closed && Date.now() - start < idleMs + 3000; i++) {
      await c.write(pingFrame(i));
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(c.closed).toBe(true);
    expect(Date.now() - start).toBeGreaterThanOrEqual(idleMs * 0.75);
    expect(c.goaway && errorCodeOf(c.goaway)).toBe(ErrorCode.NO_ERROR);
    expect(h.lines.some((l) => /hbone connection idle, closing/.test(l))).toBe(true);
    // The steady connection was as long without a new stream, but its tunnel is open.
    await steady.exchange();
    steady.close();
    await h.close();
  });

  test("a client that never reads: flow control stalls the upstream, nothing piles up", async () => {
    let pushed = 0;
    const firehoseSockets = new Set<net.Socket>();
    const chunk = Buffer.alloc(64 * 1024, 9);
    const firehose = await listen(
      net.createServer((s) => {
        firehoseSockets.add(s);
        s.once("close", () => firehoseSockets.delete(s));
        s.on("error", () => {});
        const pump = () => {
          while (pushed < 256 * 1024 * 1024 && !s.destroyed) {
            pushed += chunk.length;
            if (!s.write(chunk)) return void s.once("drain", pump);
          }
        };
        pump();
      }),
    );
    const h = await startServer();
    const steady = await steadyTunnel(h);
    const c = await rawClient(h);
    await c.write(headersFrame(1, connectHeaders(portOf(firehose))));
    // Let it push for a while; it must stall at about window + socket buffers.
    let last = -1;
    for (let i = 0; i < 40 && pushed !== last; i++) {
      last = pushed;
      await steady.talkWhile(new Promise((r) => setTimeout(r, 100)));
    }
    expect(pushed).toBe(last);
    expect(pushed).toBeLessThan(32 * 1024 * 1024);
    expect(c.bytesReceived).toBeLessThan(256 * 1024);
    c.destroy();
    await eventually(() => expect(firehoseSockets.size).toBe(0), { what: "the upstream to close with the client" });
    await steady.exchange();
    steady.close();
    firehose.close();
    await h.close();
  });

  test("streams beyond maxStreamsPerConnection get REFUSED_STREAM, not a queue; persisting closes the connection", async () => {
    const h = await startServer();
    const steady = await steadyTunnel(h);
    const max = TEST_LIMITS.maxStreamsPerConnection;
    const c = await rawClient(h);
    await c.write(Buffer.concat(Array.from({ length: max + 4 }, (_, i) => headersFrame(1 + 2 * i, connectHeaders()))));
    await eventually(() => expect(c.count(FrameType.HEADERS) + c.count(FrameType.RST_STREAM)).toBe(max + 4), { what: "an answer for every stream" });
    const refused = c.frames.filter((f) => f.type === FrameType.RST_STREAM);
    expect(refused.map((f) => errorCodeOf(f))).toEqual([7, 7, 7, 7]);
    expect(refused.map((f) => f.streamId)).toEqual([0, 1, 2, 3].map((i) => 1 + 2 * (max + i)));
    expect(h.tunnelsFrom(c.localPort)).toBe(max);
    expect(c.closed).toBe(false);
    // A peer that keeps opening streams past the limit is cut off (node:http2's maxSessionRejectedStreams).
    const next = 1 + 2 * (max + 4);
    await flood(c, (i) => headersFrame(next + 2 * i, connectHeaders()), { total: 200, batch: 20, deadlineMs: 3000 });
    await eventually(() => expect(c.closed).toBe(true), { what: "the connection to be closed" });
    expect(c.goaway && errorCodeOf(c.goaway)).toBe(ErrorCode.ENHANCE_YOUR_CALM);
    expect(h.tunnelsFrom(c.localPort)).toBe(max);
    expect(h.warned(/hbone connection closed/)).toBe(true);
    await eventually(() => expect(echoSockets.size).toBe(1), { what: "the held tunnels' upstreams to close" });
    await steady.exchange();
    await freshTunnelWorks(h);
    steady.close();
    await h.close();
  });

  test("a header list beyond maxHeaderListSize is refused on its stream; a header block beyond the block bound closes the connection", async () => {
    const h = await startServer();
    const steady = await steadyTunnel(h);
    const c = await rawClient(h);
    // In one frame: 600 empty headers, 4 KiB on the wire but ~21 KiB by the HPACK size rule: that stream is reset.
    const many: Record<string, string> = connectHeaders();
    for (let i = 0; i < 600; i++) many[`x-${i}`] = "";
    await c.write(frame(FrameType.HEADERS, 0x4, 1, hpackBlock(many)));
    await c.write(headersFrame(3, connectHeaders()));
    await eventually(() => expect(c.find((f) => f.type === FrameType.HEADERS && f.streamId === 3)).toBeDefined(), { what: "the normal stream's answer" });
    expect(c.frames.filter((f) => f.type === FrameType.RST_STREAM).map((f) => [f.streamId, errorCodeOf(f)])).toEqual([[1, ErrorCode.ENHANCE_YOUR_CALM]]);
    expect(h.tunnelsFrom(c.localPort)).toBe(1);
    // Across CONTINUATION frames: one 40 KB value. A block that large is not buffered: the connection goes (the HPACK
    // state cannot be kept without decoding it, so refusing only the stream would mean holding it).
    const big = hpackBlock({ ...connectHeaders(), "x-big": "a".repeat(40_000) });
    await c.write(Buffer.concat([frame(FrameType.HEADERS, 0, 5, big.subarray(0, 16_000)), frame(FrameType.CONTINUATION, 0, 5, big.subarray(16_000, 32_000)), frame(FrameType.CONTINUATION, 0x4, 5, big.subarray(32_000))]));
    await eventually(() => expect(c.closed).toBe(true), { what: "the connection to be closed" });
    expect(c.goaway && errorCodeOf(c.goaway)).toBe(ErrorCode.ENHANCE_YOUR_CALM);
    expect(h.tunnelsFrom(c.localPort)).toBe(1);
    expect(h.warned(/hbone connection closed .*header block/)).toBe(true);
    await steady.exchange();
    await freshTunnelWorks(h);
    steady.close();
    await h.close();
  });

  test("beyond maxConnections new connections are refused at accept with a log line", async () => {
    const h = await startServer({ maxConnections: 3, handshakeTimeoutMs: 5000 });
    const steady = await steadyTunnel(h);
    const held: RawH2Connection[] = [];
    for (let i = 0; i < 2; i++) {
      const c = await rawClient(h);
      await c.write(headersFrame(1, connectHeaders()));
      held.push(c);
    }
    await eventually(() => expect(h.server.connections).toBe(3));
    const refused = await rawClient(h).then(
      (c) => new Promise<boolean>((resolve) => (c.closed ? resolve(true) : c.socket.once("close", () => resolve(true)))),
      () => true,
    );
    expect(refused).toBe(true);
    expect(h.warned(/hbone connection refused .*connection limit reached/)).toBe(true);
    expect(h.server.connections).toBe(3);
    await steady.exchange();
    // A freed slot is usable again.
    held.pop()?.destroy();
    await eventually(() => expect(h.server.connections).toBe(2));
    await freshTunnelWorks(h);
    for (const c of held) c.destroy();
    steady.close();
    await h.close();
  });
});

// ---------------------------------------------------------------------------------------------

function listen(server: net.Server): Promise<net.Server> {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

function portOf(server: net.Server): number {
  return (server.address() as net.AddressInfo).port;
}

