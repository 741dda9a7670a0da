/**
 * acceptSocks5 in memory (a Duplex, every way of chunking the handshake), then for real on
 * 127.0.0.1 port 0 (a raw client, slow and broken clients, and curl through a node:http server).
 * Network rule: traffic only to 127.0.0.0/8 and ::1.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { execFile } from "node:child_process";
import { once } from "node:events";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { connect, createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { Duplex } from "node:stream";
import { eventually } from "../../../test/support/eventually.ts";
import { isMeshError, MeshError } from "../../errors/mesh-error.ts";
import { acceptSocks5, type Socks5Accepted, type Socks5Destination } from "./socks5.ts";
import { encodeGreeting, encodeRequest, Socks5Reply } from "./socks5-protocol.ts";

const ascii = (s: string) => new TextEncoder().encode(s);
const cat = (...parts: Uint8Array[]) => Uint8Array.from(parts.flatMap((p) => [...p]));
const OK_REPLY = [5, 0, 0, 1, 0, 0, 0, 0, 0, 0];

/** The server side of a connection, in memory: push what the client sends, read what we answered. */
class MemorySocket extends Duplex {
  readonly written: number[] = [];
  finished = false;
  override _read(): void {}
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.written.push(...chunk);
    callback();
  }
  override _final(callback: (error?: Error | null) => void): void {
    this.finished = true;
    callback();
  }
  /** What is still buffered for the reader, after the handshake paused the stream. */
  drain(): number[] {
    const out: number[] = [];
    for (let chunk = this.read() as Buffer | null; chunk !== null; chunk = this.read() as Buffer | null) out.push(...chunk);
    return out;
  }
}

async function rejection(promise: Promise<unknown>): Promise<MeshError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(MeshError);
    return err as MeshError;
  }
  throw new Error("expected a rejection");
}

describe("acceptSocks5 in memory", () => {
  const greeting = encodeGreeting([2, 0]);
  const request = encodeRequest({ kind: "name", name: "reviews.bookinfo", port: 9080 });
  const data = ascii("GET / HTTP/1.1\r\nHost: reviews\r\n\r\n");
  const stream = cat(greeting, request, data);

  async function run(chunks: Uint8Array[], spaced: boolean): Promise<{ accepted: Socks5Accepted; socket: MemorySocket }> {
    const socket = new MemorySocket();
    const promise = acceptSocks5(socket, { timeoutMs: 5000 });
    for (const chunk of chunks) {
      socket.push(Buffer.from(chunk));
      if (spaced) await new Promise((r) => setImmediate(r));
    }
    return { accepted: await promise, socket };
  }

  test("split in two at every byte boundary: destination right, no byte lost or read twice", async () => {
    for (let k = 0; k <= stream.length; k++) {
      for (const spaced of [false, true]) {
        const { accepted, socket } = await run([stream.subarray(0, k), stream.subarray(k)].filter((c) => c.length > 0), spaced);
        expect(accepted.destination).toEqual({ kind: "name", name: "reviews.bookinfo", port: 9080 });
        expect([...accepted.leftover, ...socket.drain()]).toEqual([...data]);
        expect(socket.written).toEqual([5, 0]);
        expect(socket.isPaused()).toBe(true);
      }
    }
  });

  test("one byte at a time, and random chunkings (seeded)", async () => {
    const oneByOne = await run([...stream].map((b) => Uint8Array.of(b)), true);
    expect([...oneByOne.accepted.leftover, ...oneByOne.socket.drain()]).toEqual([...data]);
    let seed = 12345;
    const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    for (let i = 0; i < 200; i++) {
      const chunks: Uint8Array[] = [];
      for (let at = 0; at < stream.length; ) {
        const n = 1 + Math.floor(rand() * 12);
        chunks.push(stream.subarray(at, at + n));
        at += n;
      }
      const { accepted, socket } = await run(chunks, rand() < 0.5);
      expect([...accepted.leftover, ...socket.drain()]).toEqual([...data]);
    }
  });

  test("reply: success once, then a second reply is refused", async () => {
    const { accepted, socket } = await run([stream], false);
    accepted.reply(Socks5Reply.succeeded, { address: "10.0.0.7", port: 15001 });
    expect(socket.written).toEqual([5, 0, 5, 0, 0, 1, 10, 0, 0, 7, 15001 >> 8, 15001 & 0xff]);
    expect(() => accepted.reply(0)).toThrow(expect.objectContaining({ code: "failed_precondition" }));
    expect(socket.destroyed).toBe(false);
  });

  test("reply with a failure code answers, then ends and destroys", async () => {
    const { accepted, socket } = await run([stream], false);
    accepted.reply(Socks5Reply.connectionRefused);
    await eventually(() => expect(socket.destroyed).toBe(true));
    expect(socket.written).toEqual([5, 0, 5, 5, 0, 1, 0, 0, 0, 0, 0, 0]);
    expect(socket.finished).toBe(true);
  });

  test("a bad bound address throws, and the reply can still be sent", async () => {
    const { accepted, socket } = await run([stream], false);
    expect(() => accepted.reply(0, { address: "not-an-ip", port: 1 })).toThrow(expect.objectContaining({ code: "invalid_argument" }));
    accepted.reply(0);
    expect(socket.written).toEqual([5, 0, ...OK_REPLY]);
  });

  const refusals: Array<[string, Uint8Array, number[], string]> = [
    ["not SOCKS5: closed without an answer", ascii("GET / HTTP/1.1\r\n"), [], "invalid_argument"],
    ["no acceptable method: 0xFF", Uint8Array.of(5, 1, 2), [5, 0xff], "invalid_argument"],
    ["BIND: command not supported", cat(encodeGreeting(), Uint8Array.of(5, 2, 0, 1, 127, 0, 0, 1, 0, 80)), [5, 0, 5, 7, 0, 1, 0, 0, 0, 0, 0, 0], "invalid_argument"],
    ["address type 2: not supported", cat(encodeGreeting(), Uint8Array.of(5, 1, 0, 2)), [5, 0, 5, 8, 0, 1, 0, 0, 0, 0, 0, 0], "invalid_argument"],
    ["control byte in a name: general failure", cat(encodeGreeting(), Uint8Array.of(5, 1, 0, 3, 3, 0x61, 0x0a, 0x62, 0, 80)), [5, 0, 5, 1, 0, 1, 0, 0, 0, 0, 0, 0], "invalid_argument"],
  ];
  for (const [what, input, answer, code] of refusals) {
    test(what, async () => {
      const socket = new MemorySocket();
      const promise = acceptSocks5(socket, { timeoutMs: 5000 });
      socket.push(Buffer.from(input));
      const err = await rejection(promise);
      expect(err.code).toBe(code as MeshError["code"]);
      expect(socket.written).toEqual(answer);
      expect(socket.destroyed).toBe(true);
    });
  }

  test("a handshake larger than maxHandshakeBytes is refused", async () => {
    const socket = new MemorySocket();
    const promise = acceptSocks5(socket, { timeoutMs: 5000, maxHandshakeBytes: 20 });
    for (const b of cat(encodeGreeting(), encodeRequest({ kind: "name", name: "a-rather-long-name.example", port: 80 }))) socket.push(Buffer.of(b));
    const err = await rejection(promise);
    expect(err.code).toBe("invalid_argument");
    expect(err.message).toContain("exceeds 20 bytes");
    expect(socket.written).toEqual([5, 0, 5, 1, 0, 1, 0, 0, 0, 0, 0, 0]);
  });

  test("abort (drain) rejects with canceled", async () => {
    const socket = new MemorySocket();
    const controller = new AbortController();
    const promise = acceptSocks5(socket, { timeoutMs: 5000, signal: controller.signal });
    socket.push(Buffer.from(encodeGreeting()));
    await eventually(() => expect(socket.written).toEqual([5, 0]));
    controller.abort();
    expect((await rejection(promise)).code).toBe("canceled");
    expect(socket.destroyed).toBe(true);
    // Already aborted: rejects at once.
    expect((await rejection(acceptSocks5(new MemorySocket(), { timeoutMs: 5000, signal: AbortSignal.abort() }))).code).toBe("canceled");
  });

  test("end of stream mid-handshake rejects with invalid_argument", async () => {
    const socket = new MemorySocket();
    const promise = acceptSocks5(socket, { timeoutMs: 5000 });
    socket.push(Buffer.of(5, 1));
    socket.push(null);
    const err = await rejection(promise);
    expect(err.code).toBe("invalid_argument");
    expect(err.message).toContain("closed");
  });
});

// --- For real, on 127.0.0.1 port 0 ----------------------------------------------------------------

const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const close of closers.reverse()) await close();
});

async function listen<T extends Server | HttpServer>(server: T, host = "127.0.0.1"): Promise<{ server: T; port: number }> {
  server.listen(0, host);
  await once(server, "listening");
  const sockets = new Set<Socket>();
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  closers.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return { server, port: (server.address() as AddressInfo).port };
}

/** An echo server on 127.0.0.1. */
const echo = await listen(createServer((s) => s.pipe(s).on("error", () => {})));

type Outcome = { ok: true; destination: Socks5Destination; leftover: number } | { ok: false; error: unknown };

/**
 * The SOCKS side: acceptSocks5, then connect to the destination (only loopback; "localhost" is
 * 127.0.0.1), reply with the upstream's local address, forward the leftover, pipe.
 */
async function startSocks(timeoutMs = 5000): Promise<{ port: number; outcomes: Outcome[] }> {
  const outcomes: Outcome[] = [];
  const server = createServer((client) => {
    client.on("error", () => {});
    acceptSocks5(client, { timeoutMs }).then(
      (accepted) => {
        const { destination } = accepted;
        outcomes.push({ ok: true, destination, leftover: accepted.leftover.length });
        const host = destination.kind === "ip" ? destination.address : destination.name === "localhost" ? "127.0.0.1" : null;
        if (host === null || !(host.startsWith("127.") || host === "::1")) return accepted.reply(Socks5Reply.notAllowed);
        const upstream = connect({ host, port: destination.port });
        upstream.on("error", () => {
          if (upstream.localPort === undefined) accepted.reply(Socks5Reply.connectionRefused);
          client.destroy();
        });
        upstream.on("connect", () => {
          accepted.reply(Socks5Reply.succeeded, { address: upstream.localAddress as string, port: upstream.localPort as number });
          upstream.write(accepted.leftover);
          client.pipe(upstream).pipe(client);
        });
      },
      (error: unknown) => outcomes.push({ ok: false, error }),
    );
  });
  const { port } = await listen(server);
  return { port, outcomes };
}

/** A raw client that collects everything it receives and notices when the server closes. */
async function rawClient(port: number): Promise<{ socket: Socket; received: number[]; closed: () => boolean }> {
  const socket = connect({ host: "127.0.0.1", port });
  await once(socket, "connect");
  const received: number[] = [];
  let closed = false;
  socket.on("data", (chunk: Buffer) => received.push(...chunk));
  socket.on("error", () => {});
  socket.on("close", () => (closed = true));
  closers.push(async () => void socket.destroy());
  return { socket, received, closed: () => closed };
}

const socks = await startSocks();

describe("acceptSocks5 on 127.0.0.1", () => {
  test("a handshake sent one byte at a time, then echoed data", async () => {
    const { socket, received } = await rawClient(socks.port);
    for (const b of cat(encodeGreeting(), encodeRequest({ kind: "ip", address: "127.0.0.1", port: echo.port }))) {
      socket.write(Uint8Array.of(b));
      await new Promise((r) => setTimeout(r, 1));
    }
    await eventually(() => expect(received.length).toBe(12));
    expect(received.slice(0, 4)).toEqual([5, 0, 5, 0]);
    expect(received[5]).toBe(1); // ATYP IPv4: the upstream's local address, 127.0.0.1
    socket.write(ascii("hello"));
    await eventually(() => expect(Buffer.from(received.slice(12)).toString()).toBe("hello"));
  });

  test("data pipelined with the handshake is not lost", async () => {
    const before = socks.outcomes.length;
    const { socket, received } = await rawClient(socks.port);
    socket.write(cat(encodeGreeting(), encodeRequest({ kind: "name", name: "localhost", port: echo.port }), ascii("early bytes")));
    await eventually(() => expect(Buffer.from(received.slice(12)).toString()).toBe("early bytes"));
    const outcome = socks.outcomes[before];
    expect(outcome?.ok && outcome.destination).toEqual({ kind: "name", name: "localhost", port: echo.port });
    expect(outcome?.ok && outcome.leftover).toBe("early bytes".length);
  });

  test("an unsupported command gets REP 0x07 and a closed connection", async () => {
    const { socket, received, closed } = await rawClient(socks.port);
    socket.write(cat(encodeGreeting(), Uint8Array.of(5, 3, 0, 1, 127, 0, 0, 1, 0, 53)));
    await eventually(() => expect(closed()).toBe(true));
    expect(received).toEqual([5, 0, 5, 7, 0, 1, 0, 0, 0, 0, 0, 0]);
  });

  test("a refused destination gets REP 0x05", async () => {
    const refused = await listen(createServer());
    await new Promise<void>((r) => refused.server.close(() => r()));
    const { socket, received, closed } = await rawClient(socks.port);
    socket.write(cat(encodeGreeting(), encodeRequest({ kind: "ip", address: "127.0.0.1", port: refused.port })));
    await eventually(() => expect(closed()).toBe(true));
    expect(received).toEqual([5, 0, 5, 5, 0, 1, 0, 0, 0, 0, 0, 0]);
  });

  test("a client that sends one byte and stalls hits the timeout", async () => {
    const slow = await startSocks(300);
    const { socket, received, closed } = await rawClient(slow.port);
    const started = Date.now();
    socket.write(Uint8Array.of(5));
    await eventually(() => expect(closed()).toBe(true), { timeoutMs: 5000 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(received).toEqual([]); // mid-greeting there is nothing to say
    await eventually(() => expect(slow.outcomes.length).toBe(1));
    const outcome = slow.outcomes[0];
    expect(outcome?.ok).toBe(false);
    expect(isMeshError(outcome?.ok === false ? outcome.error : null, "deadline_exceeded")).toBe(true);
  });

  test("a client that stalls mid-request gets a general failure at the timeout", async () => {
    const slow = await startSocks(300);
    const { socket, received, closed } = await rawClient(slow.port);
    socket.write(cat(encodeGreeting(), Uint8Array.of(5, 1)));
    await eventually(() => expect(closed()).toBe(true), { timeoutMs: 5000 });
    expect(received).toEqual([5, 0, 5, 1, 0, 1, 0, 0, 0, 0, 0, 0]);
    await eventually(() => expect(slow.outcomes.length).toBe(1));
    const outcome = slow.outcomes[0];
    expect(isMeshError(outcome?.ok === false ? outcome.error : null, "deadline_exceeded")).toBe(true);
  });

  test("a client that connects and says nothing hits the timeout", async () => {
    const slow = await startSocks(200);
    const { closed } = await rawClient(slow.port);
    await eventually(() => expect(closed()).toBe(true), { timeoutMs: 5000 });
    await eventually(() => expect(slow.outcomes.length).toBe(1));
    const outcome = slow.outcomes[0];
    expect(isMeshError(outcome?.ok === false ? outcome.error : null, "deadline_exceeded")).toBe(true);
  });

  test("a client that resets mid-handshake is rejected, not crashing anything", async () => {
    const own = await startSocks();
    const { socket, received } = await rawClient(own.port);
    socket.write(cat(encodeGreeting(), Uint8Array.of(5, 1)));
    await eventually(() => expect(received).toEqual([5, 0]));
    socket.resetAndDestroy();
    await eventually(() => expect(own.outcomes.length).toBe(1));
    const outcome = own.outcomes[0];
    expect(outcome?.ok).toBe(false);
    expect(outcome?.ok === false && outcome.error).toBeInstanceOf(MeshError);
  });
});

// --- curl, through the SOCKS side, to a node:http server ------------------------------------------

const http = await listen(createHttpServer((req, res) => res.end(`hello from ${req.url}`)));

/** The same server on ::1, where the machine has IPv6 loopback. */
const http6 = await listen(createHttpServer((req, res) => res.end(`hello from ${req.url}`)), "::1").catch(() => null);

function curl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (/_proxy$/i.test(k)) delete env[k];
  return new Promise((resolve) => {
    execFile("curl", ["--silent", "--show-error", "--max-time", "10", ...args], { env }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe("curl through acceptSocks5", () => {
  test("--socks5-hostname sends the name", async () => {
    const before = socks.outcomes.length;
    const r = await curl(["--socks5-hostname", `127.0.0.1:${socks.port}`, `http://localhost:${http.port}/by-name`]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("hello from /by-name");
    const outcome = socks.outcomes[before];
    expect(outcome?.ok && outcome.destination).toEqual({ kind: "name", name: "localhost", port: http.port });
  });

  test("--socks5 sends the IPv4 address", async () => {
    const before = socks.outcomes.length;
    const r = await curl(["--socks5", `127.0.0.1:${socks.port}`, `http://127.0.0.1:${http.port}/by-ip`]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("hello from /by-ip");
    const outcome = socks.outcomes[before];
    expect(outcome?.ok && outcome.destination).toEqual({ kind: "ip", address: "127.0.0.1", port: http.port });
  });

  test("--socks5-hostname with an IP literal arrives as an IP", async () => {
    const before = socks.outcomes.length;
    const r = await curl(["--socks5-hostname", `127.0.0.1:${socks.port}`, `http://127.0.0.1:${http.port}/literal`]);
    expect(r.stdout).toBe("hello from /literal");
    const outcome = socks.outcomes[before];
    expect(outcome?.ok && outcome.destination).toEqual({ kind: "ip", address: "127.0.0.1", port: http.port });
  });

  test.skipIf(http6 === null)("--socks5 sends the IPv6 address", async () => {
    const before = socks.outcomes.length;
    const r = await curl(["--socks5", `127.0.0.1:${socks.port}`, `http://[::1]:${http6?.port}/by-ipv6`]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("hello from /by-ipv6");
    const outcome = socks.outcomes[before];
    expect(outcome?.ok && outcome.destination).toEqual({ kind: "ip", address: "::1", port: http6?.port ?? 0 });
  });

  test("a destination the SOCKS side refuses makes curl fail", async () => {
    const r = await curl(["--socks5-hostname", `127.0.0.1:${socks.port}`, `http://not-loopback.example:${http.port}/`]);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe("");
  });
});
