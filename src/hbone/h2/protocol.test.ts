/**
 * The lean HTTP/2 layer against a raw frame peer: what it does when the peer breaks the rules
 * (RFC 9113 errors) or abuses it (floods, rapid reset, header bombs), and the graceful paths
 * (GOAWAY both ways, PING, cancel).
 */
import { describe, expect, test } from "bun:test";
import { eventually } from "../../../test/support/eventually.ts";
import { H2ClientConnection, H2ServerConnection, type H2Options, type OnStream } from "./connection.ts";
import { H2Code, H2Error } from "./errors.ts";
import { encodeFrame, encodeFrameHeader, Flag, FrameType, goawayFrame, pingFrame, rstStreamFrame, settingsFrame, windowUpdateFrame } from "./frames.ts";
import { memoryPair, RawPeer } from "./memory-pair.test-support.ts";
import type { H2Stream } from "./stream.ts";
import { mulberry32 as prng } from "../../../test/support/seeded-random.ts";

const CONNECT: Array<[string, string]> = [
  [":method", "CONNECT"],
  [":authority", "10.0.0.1:80"],
];

/** A lean server and a raw client peer. */
function leanServer(onStream?: OnStream, options: Partial<H2Options> = {}): { server: H2ServerConnection; peer: RawPeer; streams: H2Stream[] } {
  const [a, b] = memoryPair();
  const streams: H2Stream[] = [];
  const server = new H2ServerConnection(b, {
    ...options,
    onStream:
      onStream ??
      ((_h, stream, respond) => {
        streams.push(stream);
        respond(200);
      }),
  });
  return { server, peer: new RawPeer(a, "client"), streams };
}

/** A lean client and a raw server peer. */
function leanClient(options: Partial<H2Options> = {}): { client: H2ClientConnection; peer: RawPeer } {
  const [a, b] = memoryPair();
  return { client: new H2ClientConnection(a, options), peer: new RawPeer(b, "server") };
}

async function expectGoaway(peer: RawPeer, code: number): Promise<void> {
  await eventually(() => expect(peer.goaway()?.code).toBe(code));
  await eventually(() => expect(peer.closed).toBe(true));
}

describe("server side", () => {
  test("preface, SETTINGS with our limits, an early connection WINDOW_UPDATE, and ACKs", async () => {
    const { peer } = leanServer();
    await eventually(() => expect(peer.find((f) => f.type === FrameType.SETTINGS && f.flags === Flag.ACK)).toBeDefined());
    const settings = peer.find((f) => f.type === FrameType.SETTINGS && f.flags === 0);
    const values = new Map<number, number>();
    for (let i = 0; i < (settings?.payload.length ?? 0); i += 6) values.set(settings?.payload.readUInt16BE(i) as number, settings?.payload.readUInt32BE(i + 2) as number);
    expect(values.get(2)).toBe(0); // ENABLE_PUSH
    expect(values.get(3)).toBe(100); // MAX_CONCURRENT_STREAMS
    expect(values.get(4)).toBe(4 * 1024 * 1024); // INITIAL_WINDOW_SIZE
    expect(values.get(6)).toBe(16 * 1024); // MAX_HEADER_LIST_SIZE
    const wu = peer.find((f) => f.type === FrameType.WINDOW_UPDATE && f.streamId === 0);
    expect(wu?.payload.readUInt32BE(0)).toBe(16 * 1024 * 1024 - 65_535);
  });

  test("a request reaches onStream with its headers; respond(200) sends :status", async () => {
    let seen: Record<string, unknown> | undefined;
    const { peer } = leanServer((h, _s, respond) => {
      seen = h;
      respond(200);
    });
    peer.send(peer.headers(1, [...CONNECT, ["forwarded", 'for="10.0.1.1:5"'], ["baggage", "a=1"], ["baggage", "b=2"]], Flag.END_HEADERS));
    await eventually(() => expect(peer.find((f) => f.type === FrameType.HEADERS && f.streamId === 1)).toBeDefined());
    expect(seen).toEqual({ ":method": "CONNECT", ":authority": "10.0.0.1:80", forwarded: 'for="10.0.1.1:5"', baggage: ["a=1", "b=2"] });
  });

  test("PING is answered with the same payload", async () => {
    const { peer } = leanServer();
    peer.send(pingFrame(Buffer.from("12345678"), false));
    await eventually(() => expect(peer.find((f) => f.type === FrameType.PING && f.flags === Flag.ACK)?.payload.toString()).toBe("12345678"));
  });

  test("a bad preface or a first frame other than SETTINGS is a PROTOCOL_ERROR", async () => {
    const [a, b] = memoryPair();
    new H2ServerConnection(b, { onStream: () => {} });
    const peer = new RawPeer(a, "client", { preface: false });
    peer.send(Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    await expectGoaway(peer, H2Code.PROTOCOL_ERROR);
    const [c, d] = memoryPair();
    new H2ServerConnection(d, { onStream: () => {} });
    const peer2 = new RawPeer(c, "client", { preface: false });
    peer2.send(Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1"), pingFrame(Buffer.alloc(8), false));
    await expectGoaway(peer2, H2Code.PROTOCOL_ERROR);
  });

  test("a frame above our MAX_FRAME_SIZE is a FRAME_SIZE_ERROR", async () => {
    const { peer } = leanServer(undefined, { maxFrameSize: 16_384 });
    peer.send(encodeFrameHeader(16_385, FrameType.DATA, 0, 1));
    await expectGoaway(peer, H2Code.FRAME_SIZE_ERROR);
  });

  test("HPACK garbage is a COMPRESSION_ERROR", async () => {
    const { peer } = leanServer();
    peer.send(encodeFrame(FrameType.HEADERS, Flag.END_HEADERS, 1, Buffer.from([0x80])));
    await expectGoaway(peer, H2Code.COMPRESSION_ERROR);
  });

  test("PUSH_PROMISE, DATA on an idle stream and an even stream id are PROTOCOL_ERRORs", async () => {
    for (const frame of [encodeFrame(FrameType.PUSH_PROMISE, Flag.END_HEADERS, 1, Buffer.alloc(4)), encodeFrame(FrameType.DATA, 0, 5, Buffer.alloc(1))]) {
      const { peer } = leanServer();
      peer.send(frame);
      await expectGoaway(peer, H2Code.PROTOCOL_ERROR);
    }
    const { peer } = leanServer();
    peer.send(peer.headers(2, CONNECT, Flag.END_HEADERS));
    await expectGoaway(peer, H2Code.PROTOCOL_ERROR);
  });

  test("a frame between HEADERS and CONTINUATION is a PROTOCOL_ERROR; split blocks are joined", async () => {
    const { peer, streams } = leanServer();
    const block = peer.encoder.encode(CONNECT);
    peer.send(encodeFrame(FrameType.HEADERS, 0, 1, block.subarray(0, 3)), encodeFrame(FrameType.CONTINUATION, 0, 1, block.subarray(3, 5)), encodeFrame(FrameType.CONTINUATION, Flag.END_HEADERS, 1, block.subarray(5)));
    await eventually(() => expect(streams.length).toBe(1));
    peer.send(encodeFrame(FrameType.HEADERS, 0, 3, peer.encoder.encode(CONNECT)), pingFrame(Buffer.alloc(8), false));
    await expectGoaway(peer, H2Code.PROTOCOL_ERROR);
  });

  test("a CONTINUATION flood beyond the header block bound is ENHANCE_YOUR_CALM", async () => {
    const { peer } = leanServer(undefined, { maxHeaderBlockSize: 8192 });
    peer.send(encodeFrame(FrameType.HEADERS, 0, 1, Buffer.alloc(4000)));
    for (let i = 0; i < 3; i++) peer.send(encodeFrame(FrameType.CONTINUATION, 0, 1, Buffer.alloc(4000)));
    await expectGoaway(peer, H2Code.ENHANCE_YOUR_CALM);
  });

  test("a header list above MAX_HEADER_LIST_SIZE resets only its stream", async () => {
    const { peer, streams } = leanServer(undefined, { maxHeaderListSize: 1024 });
    peer.send(peer.headers(1, [...CONNECT, ["baggage", "x".repeat(2000)]], Flag.END_HEADERS));
    await eventually(() => expect(peer.rst(1)).toBe(H2Code.ENHANCE_YOUR_CALM));
    peer.send(peer.headers(3, CONNECT, Flag.END_HEADERS));
    await eventually(() => expect(streams.map((s) => s.id)).toEqual([3]));
    expect(peer.goaway()).toBeUndefined();
  });

  test("malformed requests (uppercase name, connection header, unknown pseudo) get RST PROTOCOL_ERROR", async () => {
    const { peer, streams } = leanServer();
    peer.send(peer.headers(1, [...CONNECT, ["Forwarded", "x"]], Flag.END_HEADERS));
    peer.send(peer.headers(3, [...CONNECT, ["connection", "close"]], Flag.END_HEADERS));
    peer.send(peer.headers(5, [[":method", "CONNECT"], [":bogus", "1"]], Flag.END_HEADERS));
    peer.send(peer.headers(7, [["x", "1"], [":method", "CONNECT"]], Flag.END_HEADERS));
    peer.send(peer.headers(9, [...CONNECT, ["x", " padded"]], Flag.END_HEADERS));
    await eventually(() => expect([1, 3, 5, 7, 9].map((id) => peer.rst(id))).toEqual([1, 1, 1, 1, 1]));
    expect(streams.length).toBe(0);
  });

  test("streams beyond MAX_CONCURRENT_STREAMS are refused", async () => {
    const { peer, streams } = leanServer(undefined, { maxConcurrentStreams: 2 });
    for (const id of [1, 3, 5]) peer.send(peer.headers(id, CONNECT, Flag.END_HEADERS));
    await eventually(() => expect(peer.rst(5)).toBe(H2Code.REFUSED_STREAM));
    expect(streams.map((s) => s.id)).toEqual([1, 3]);
  });

  test("DATA beyond the stream window resets the stream with FLOW_CONTROL_ERROR", async () => {
    const { peer } = leanServer(undefined, { initialWindowSize: 65_535, connectionWindowSize: 1 << 20 });
    peer.send(peer.headers(1, CONNECT, Flag.END_HEADERS));
    peer.send(encodeFrame(FrameType.DATA, 0, 1, Buffer.alloc(16_384)), encodeFrame(FrameType.DATA, 0, 1, Buffer.alloc(16_384)), encodeFrame(FrameType.DATA, 0, 1, Buffer.alloc(16_384)), encodeFrame(FrameType.DATA, 0, 1, Buffer.alloc(16_384)));
    await eventually(() => expect(peer.rst(1)).toBe(H2Code.FLOW_CONTROL_ERROR));
    expect(peer.goaway()).toBeUndefined();
  });

  test("a connection WINDOW_UPDATE past 2^31-1 is a FLOW_CONTROL_ERROR; a zero increment a PROTOCOL_ERROR", async () => {
    const one = leanServer();
    one.peer.send(windowUpdateFrame(0, 0x7fffffff));
    await expectGoaway(one.peer, H2Code.FLOW_CONTROL_ERROR);
    const two = leanServer();
    two.peer.send(windowUpdateFrame(0, 0));
    await expectGoaway(two.peer, H2Code.PROTOCOL_ERROR);
  });

  test("SETTINGS/PING floods close the connection with ENHANCE_YOUR_CALM", async () => {
    const { peer } = leanServer(undefined, { maxControlFrames: 50 });
    for (let i = 0; i < 60; i++) peer.send(i % 2 ? pingFrame(Buffer.alloc(8), false) : settingsFrame([]));
    await expectGoaway(peer, H2Code.ENHANCE_YOUR_CALM);
  });

  test("rapid reset: streams reset before an answer close the connection with ENHANCE_YOUR_CALM", async () => {
    let seen = 0;
    const { peer } = leanServer(() => seen++, { maxPeerResets: 20 }); // never answers
    for (let id = 1; id < 2 * 30; id += 2) peer.send(peer.headers(id, CONNECT, Flag.END_HEADERS), rstStreamFrame(id, H2Code.CANCEL));
    await expectGoaway(peer, H2Code.ENHANCE_YOUR_CALM);
    expect(seen).toBeLessThanOrEqual(21);
  });

  test("a peer's RST_STREAM destroys the stream with its code", async () => {
    const { peer, streams } = leanServer();
    peer.send(peer.headers(1, CONNECT, Flag.END_HEADERS));
    await eventually(() => expect(streams.length).toBe(1));
    const s = streams[0] as H2Stream;
    const err = new Promise<Error>((resolve) => s.once("error", resolve));
    peer.send(rstStreamFrame(1, H2Code.CANCEL));
    expect(((await err) as H2Error).h2Code).toBe(H2Code.CANCEL);
    expect(s.rstCode).toBe(H2Code.CANCEL);
  });

  test("destroy() on a stream sends RST_STREAM(CANCEL); end() sends END_STREAM", async () => {
    const { peer, streams } = leanServer();
    peer.send(peer.headers(1, CONNECT, Flag.END_HEADERS), peer.headers(3, CONNECT, Flag.END_HEADERS));
    await eventually(() => expect(streams.length).toBe(2));
    streams[0]?.destroy();
    streams[1]?.end("bye");
    await eventually(() => expect(peer.rst(1)).toBe(H2Code.CANCEL));
    await eventually(() => expect(peer.find((f) => f.type === FrameType.DATA && f.streamId === 3 && (f.flags & Flag.END_STREAM) !== 0)).toBeDefined());
    expect(peer.find((f) => f.type === FrameType.DATA && f.streamId === 3 && f.payload.length > 0)?.payload.toString()).toBe("bye");
  });

  test("a refusal with endStream ends our side and asks the client to stop (RST NO_ERROR)", async () => {
    const { peer } = leanServer((_h, _s, respond) => respond(401, true));
    peer.send(peer.headers(1, CONNECT, Flag.END_HEADERS));
    await eventually(() => expect(peer.rst(1)).toBe(H2Code.NO_ERROR));
    const h = peer.find((f) => f.type === FrameType.HEADERS && f.streamId === 1);
    expect((h?.flags ?? 0) & Flag.END_STREAM).toBe(Flag.END_STREAM);
  });

  test("close() sends GOAWAY with the last stream id, refuses new streams and ends after open ones", async () => {
    const { server, peer, streams } = leanServer();
    peer.send(peer.headers(1, CONNECT, Flag.END_HEADERS));
    await eventually(() => expect(streams.length).toBe(1));
    server.close();
    await eventually(() => expect(peer.goaway()).toEqual({ lastStreamId: 1, code: H2Code.NO_ERROR }));
    peer.send(peer.headers(3, CONNECT, Flag.END_HEADERS));
    await eventually(() => expect(peer.rst(3)).toBe(H2Code.REFUSED_STREAM));
    expect(peer.closed).toBe(false);
    // The open stream finishes both ways; then the connection ends.
    streams[0]?.end();
    peer.send(encodeFrame(FrameType.DATA, Flag.END_STREAM, 1));
    await eventually(() => expect(peer.closed).toBe(true));
  });
});

describe("seeded fuzz", () => {
  
  test("mutated frame sequences end in GOAWAY, RST_STREAM or nothing, never a throw", async () => {
    const rand = prng(9113);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)] as T;
    let goaways = 0;
    for (let i = 0; i < 400; i++) {
      const { server, peer } = leanServer((_h, stream, respond) => {
        respond(rand() < 0.5 ? 200 : 503, rand() < 0.3);
        stream.resume();
      });
      const id = 1 + 2 * Math.floor(rand() * 3);
      const base = [
        peer.headers(id, CONNECT, Flag.END_HEADERS),
        encodeFrame(FrameType.DATA, rand() < 0.3 ? Flag.END_STREAM : 0, id, Buffer.alloc(Math.floor(rand() * 100))),
        windowUpdateFrame(Math.floor(rand() * 4), Math.floor(rand() * 2 ** 31)),
        settingsFrame([[Math.floor(rand() * 8), Math.floor(rand() * 2 ** 32)]]),
        pingFrame(Buffer.alloc(8), rand() < 0.5),
        rstStreamFrame(id, Math.floor(rand() * 14)),
        encodeFrame(FrameType.PRIORITY, 0, id, Buffer.alloc(5)),
        encodeFrame(FrameType.CONTINUATION, Flag.END_HEADERS, id, Buffer.alloc(3)),
        goawayFrame(id, 0),
        encodeFrame(Math.floor(rand() * 256), Math.floor(rand() * 256), Math.floor(rand() * 8), Buffer.alloc(Math.floor(rand() * 20))),
      ];
      const frames: Buffer[] = [];
      for (let k = 0; k < 12; k++) {
        const f = Buffer.from(pick(base));
        // Flip a few octets anywhere in the frame (header included).
        const flips = Math.floor(rand() * 3);
        for (let j = 0; j < flips; j++) f[Math.floor(rand() * f.length)] = Math.floor(rand() * 256);
        frames.push(f);
      }
      peer.send(...frames);
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
      const g = peer.goaway();
      if (g) goaways++;
      // INTERNAL_ERROR would mean something threw that is not a protocol verdict: a bug.
      expect({ i, code: g?.code }).not.toEqual({ i, code: H2Code.INTERNAL_ERROR });
      server.destroy();
    }
    expect(goaways).toBeGreaterThan(0);
  });
});

describe("client side", () => {
  const respond200 = (peer: RawPeer, id: number, flags = Flag.END_HEADERS) => peer.send(peer.headers(id, [[":status", "200"]], flags));

  test("request() sends CONNECT and resolves on the response; data flows", async () => {
    const { client, peer } = leanClient();
    const pending = client.request({ ":method": "CONNECT", ":authority": "10.0.0.1:80", baggage: "a=1" });
    await eventually(() => expect(peer.find((f) => f.type === FrameType.HEADERS && f.streamId === 1)).toBeDefined());
    peer.send(peer.headers(1, [[":status", "100"]], Flag.END_HEADERS)); // informational: skipped
    respond200(peer, 1);
    const { status, stream } = await pending;
    expect(status).toBe(200);
    const got = new Promise<string>((resolve) => stream.once("data", (d: Buffer) => resolve(d.toString())));
    peer.send(encodeFrame(FrameType.DATA, 0, 1, Buffer.from("hello")));
    expect(await got).toBe("hello");
  });

  test("a server PUSH_PROMISE is a PROTOCOL_ERROR", async () => {
    const { client, peer } = leanClient();
    const pending = client.request({ ":method": "CONNECT", ":authority": "10.0.0.1:80" }).catch((e: H2Error) => e);
    peer.send(encodeFrame(FrameType.PUSH_PROMISE, Flag.END_HEADERS, 1, Buffer.from([0, 0, 0, 2, 0x82])));
    await expectGoaway(peer, H2Code.PROTOCOL_ERROR);
    expect(await pending).toBeInstanceOf(H2Error);
  });

  test("GOAWAY: streams above its last id are refused (retryable), lower ones finish, new ones are refused", async () => {
    const { client, peer } = leanClient();
    const first = client.request({ ":method": "CONNECT", ":authority": "10.0.0.1:80" });
    const second = client.request({ ":method": "CONNECT", ":authority": "10.0.0.1:80" }).catch((e: H2Error) => e);
    await eventually(() => expect(peer.frames.filter((f) => f.type === FrameType.HEADERS).length).toBe(2));
    peer.send(goawayFrame(1, H2Code.NO_ERROR));
    const refused = (await second) as H2Error;
    expect(refused.h2Code).toBe(H2Code.REFUSED_STREAM);
    expect(client.draining).toBe(true);
    expect(((await client.request({ ":method": "CONNECT", ":authority": "x:1" }).catch((e: H2Error) => e)) as H2Error).h2Code).toBe(H2Code.REFUSED_STREAM);
    respond200(peer, 1);
    const { stream } = await first;
    const closed = new Promise((r) => client.once("close", r));
    stream.end();
    stream.resume();
    peer.send(encodeFrame(FrameType.DATA, Flag.END_STREAM, 1));
    await closed;
  });

  test("an aborted request sends RST_STREAM(CANCEL) and rejects", async () => {
    const { client, peer } = leanClient();
    const ac = new AbortController();
    const pending = client.request({ ":method": "CONNECT", ":authority": "10.0.0.1:80" }, { signal: ac.signal }).catch((e: H2Error) => e);
    ac.abort();
    expect(((await pending) as H2Error).h2Code).toBe(H2Code.CANCEL);
    await eventually(() => expect(peer.rst(1)).toBe(H2Code.CANCEL));
  });

  test("a response without :status, or DATA before the response, resets the stream", async () => {
    const { client, peer } = leanClient();
    const a = client.request({ ":method": "CONNECT", ":authority": "10.0.0.1:80" }).catch((e: H2Error) => e);
    const b = client.request({ ":method": "CONNECT", ":authority": "10.0.0.1:80" }).catch((e: H2Error) => e);
    await eventually(() => expect(peer.frames.filter((f) => f.type === FrameType.HEADERS).length).toBe(2));
    peer.send(peer.headers(1, [["x", "1"]], Flag.END_HEADERS), encodeFrame(FrameType.DATA, 0, 3, Buffer.from("early")));
    expect(((await a) as H2Error).h2Code).toBe(H2Code.PROTOCOL_ERROR);
    expect(((await b) as H2Error).h2Code).toBe(H2Code.PROTOCOL_ERROR);
    await eventually(() => expect([peer.rst(1), peer.rst(3)]).toEqual([H2Code.PROTOCOL_ERROR, H2Code.PROTOCOL_ERROR]));
  });

  test("the peer's SETTINGS are honoured: MAX_FRAME_SIZE splits DATA, INITIAL_WINDOW_SIZE limits it", async () => {
    const { client, peer } = leanClient();
    peer.send(settingsFrame([[4, 40_000], [5, 16_384]]));
    await eventually(() => expect(peer.find((f) => f.type === FrameType.SETTINGS && f.flags === Flag.ACK)).toBeDefined());
    peer.send(windowUpdateFrame(0, 1 << 20));
    const pending = client.request({ ":method": "CONNECT", ":authority": "10.0.0.1:80" });
    respond200(peer, 1);
    const { stream } = await pending;
    stream.write(Buffer.alloc(100_000, 1));
    await eventually(() => expect(peer.frames.filter((f) => f.type === FrameType.DATA).reduce((n, f) => n + f.payload.length, 0)).toBe(40_000));
    expect(Math.max(...peer.frames.filter((f) => f.type === FrameType.DATA).map((f) => f.payload.length))).toBe(16_384);
    peer.send(windowUpdateFrame(1, 60_000));
    await eventually(() => expect(peer.frames.filter((f) => f.type === FrameType.DATA).reduce((n, f) => n + f.payload.length, 0)).toBe(100_000));
  });

  test("ping() measures a round trip", async () => {
    const { client, peer } = leanClient();
    const rtt = client.ping();
    await eventually(() => expect(peer.find((f) => f.type === FrameType.PING)).toBeDefined());
    const ping = peer.find((f) => f.type === FrameType.PING);
    peer.send(pingFrame(ping?.payload as Buffer, true));
    expect(await rtt).toBeGreaterThanOrEqual(0);
  });
});
