/**
 * Flow control of the lean HTTP/2 layer, lean ↔ lean over an in-memory pair whose buffers are
 * unbounded, so whatever is held back is held back by HTTP/2 alone.
 */
import { describe, expect, test } from "bun:test";
import type { Duplex } from "node:stream";
import { eventually } from "../../../test/support/eventually.ts";
import { H2ClientConnection, H2ServerConnection, type H2Options, type OnStream } from "./connection.ts";
import { memoryPair } from "./memory-pair.test-support.ts";
import type { H2Stream } from "./stream.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

function pair(onStream: OnStream, options: Partial<H2Options> = {}): { client: H2ClientConnection; server: H2ServerConnection } {
  const [a, b] = memoryPair();
  return { client: new H2ClientConnection(a, options), server: new H2ServerConnection(b, { ...options, onStream }) };
}

/** Write `total` octets as fast as backpressure allows; `accepted` counts what write() took. */
function pump(stream: Duplex, total: number, chunk = 64 * KiB): { accepted: () => number; done: Promise<void> } {
  let accepted = 0;
  const buf = Buffer.alloc(chunk, 7);
  const done = (async () => {
    while (accepted < total) {
      const n = Math.min(chunk, total - accepted);
      accepted += n;
      if (!stream.write(n === chunk ? buf : buf.subarray(0, n))) await new Promise((r) => stream.once("drain", r));
    }
    stream.end();
  })();
  return { accepted: () => accepted, done };
}

const settle = () => new Promise((r) => setTimeout(r, 50));

describe("flow control", () => {
  test("a slow reader stops the sender after one stream window; reading resumes it", async () => {
    const options = { initialWindowSize: 256 * KiB, connectionWindowSize: 4 * MiB, streamHighWaterMark: 64 * KiB };
    let serverStream: H2Stream | undefined;
    const { client } = pair((_h, stream, respond) => {
      serverStream = stream; // never read (paused: no 'data' listener)
      respond(200);
    }, options);
    const { stream } = await client.request({ ":method": "CONNECT", ":authority": "127.0.0.1:1" });
    const p = pump(stream, 64 * MiB);
    await eventually(() => expect(serverStream?.readableLength).toBe(256 * KiB));
    await settle();
    // Nothing beyond the window reached the server, and the writer is held back: what write()
    // accepted is the window plus the writable buffer (highWaterMark) and one chunk.
    expect(serverStream?.readableLength).toBe(256 * KiB);
    expect(p.accepted()).toBeLessThanOrEqual(256 * KiB + 64 * KiB + 64 * KiB);
    // Reading resumes the flow until everything arrived.
    let got = 0;
    serverStream?.on("data", (d: Buffer) => (got += d.length));
    await p.done;
    await eventually(() => expect(got).toBe(64 * MiB), { timeoutMs: 10_000 });
    client.destroy();
  });

  test("a stalled tunnel pins only its own window: other tunnels on the connection go on", async () => {
    const options = { initialWindowSize: 1 * MiB, connectionWindowSize: 2 * MiB };
    const { client } = pair((h, stream, respond) => {
      respond(200);
      if (h[":authority"] === "127.0.0.1:2") {
        stream.resume();
        stream.once("end", () => stream.end());
      }
      // 127.0.0.1:1: never read
    }, options);
    const stalled = await client.request({ ":method": "CONNECT", ":authority": "127.0.0.1:1" });
    pump(stalled.stream, 16 * MiB);
    for (let i = 0; i < 5; i++) {
      const bulk = await client.request({ ":method": "CONNECT", ":authority": "127.0.0.1:2" });
      const ended = new Promise((r) => bulk.stream.once("end", r));
      bulk.stream.resume();
      await pump(bulk.stream, 8 * MiB).done;
      await ended;
    }
    client.destroy();
  });

  test("parallel streams share a small connection window fairly: none starves", async () => {
    // The connection window (128 KiB) is the bottleneck, not the stream windows (1 MiB).
    const options = { initialWindowSize: 1 * MiB, connectionWindowSize: 128 * KiB };
    const received = new Map<string, number>();
    const { client } = pair((h, stream, respond) => {
      respond(200);
      const key = String(h["x-id"]);
      received.set(key, 0);
      stream.on("data", (d: Buffer) => received.set(key, (received.get(key) ?? 0) + d.length));
      stream.once("end", () => stream.end());
    }, options);
    const total = 4 * MiB;
    const streams = await Promise.all(Array.from({ length: 16 }, (_, i) => client.request({ ":method": "CONNECT", ":authority": "127.0.0.1:1", "x-id": String(i) })));
    let firstDone: number[] | undefined;
    await Promise.all(
      streams.map(async ({ stream }) => {
        stream.resume();
        await pump(stream, total).done;
        // When the first stream has everything delivered, look at everyone else's progress.
        await eventually(() => expect(Math.max(...received.values())).toBe(total));
        firstDone ??= [...received.values()];
      }),
    );
    // Round-robin by frame: when the first finished, every stream had at least half its bytes.
    expect(Math.min(...(firstDone as number[]))).toBeGreaterThanOrEqual(total / 2);
    await eventually(() => expect([...received.values()].every((n) => n === total)).toBe(true));
    client.destroy();
  });

  test("back-to-back bulk streams on one connection never stall, with small windows", async () => {
    const options = { initialWindowSize: 64 * KiB, connectionWindowSize: 64 * KiB, maxFrameSize: 16 * KiB };
    const { client } = pair((_h, stream, respond) => {
      respond(200);
      stream.pipe(stream);
    }, options);
    for (let i = 0; i < 30; i++) {
      const { stream } = await client.request({ ":method": "CONNECT", ":authority": "127.0.0.1:1" });
      let got = 0;
      stream.on("data", (d: Buffer) => (got += d.length));
      const ended = new Promise((r) => stream.once("end", r));
      await pump(stream, 2 * MiB + i).done;
      await ended;
      expect(got).toBe(2 * MiB + i);
    }
    expect(client.streamCount).toBe(0);
    client.destroy();
  });
});
