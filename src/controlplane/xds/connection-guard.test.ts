/**
 * The connection guard on real loopback sockets: a net (or tls) server hands every accepted socket
 * to the guard; a client byte "A" stands for an authenticated request (its stream stays open until
 * the client sends "R"). Sources are distinct loopback addresses.
 */
import { afterEach, describe, expect, test } from "bun:test";
import net from "node:net";
import tls from "node:tls";
import { eventually } from "../../../test/support/eventually.ts";
import { createTestPki } from "../../../test/support/pki.ts";
import { createLogControl } from "../../telemetry/log.ts";
import { ConnectionGuard } from "./connection-guard.ts";
import type { ConnectionLimits } from "./connection-limits.ts";

const log = createLogControl({ format: "text", spec: "off" }).logger("test");
const LIMITS: ConnectionLimits = { handshakeMs: 300, firstRequestMs: 600, idleMs: 400, maxUnauthenticated: 4, maxUnauthenticatedPerSource: 2 };
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

async function guarded(limits: ConnectionLimits, secure?: { cert: string; key: string }) {
  const guard = new ConnectionGuard(limits, log);
  const onData = (socket: net.Socket) => {
    let release: (() => void) | undefined;
    socket.on("data", (d) => {
      if (d.includes("A")) release = guard.authenticated(socket, () => socket.end());
      if (d.includes("R")) release?.();
    });
    socket.on("error", () => {});
  };
  const server = secure ? tls.createServer(secure, onData) : net.createServer(onData);
  server.on("connection", (s: net.Socket) => guard.accept(s, secure !== undefined));
  if (secure) server.on("secureConnection", (s: tls.TLSSocket) => guard.handshakeDone(s));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  cleanups.push(() => server.close());
  return { guard, port };
}

/** Connects from `source`; resolves once connected, with a promise of when the server closed it. */
async function connect(port: number, source: string) {
  const socket = net.connect({ port, host: "127.0.0.1", localAddress: source });
  socket.on("error", () => {});
  cleanups.push(() => socket.destroy());
  const closed = new Promise<number>((r) => socket.once("close", () => r(Date.now())));
  await new Promise((r) => socket.once("connect", r));
  return { socket, closed, at: Date.now() };
}

describe("ConnectionGuard", () => {
  test("an idle connection is closed at the first-request deadline", async () => {
    const { guard, port } = await guarded(LIMITS);
    const c = await connect(port, "127.0.0.2");
    await eventually(() => expect(guard.stats.unauthenticated).toBe(1));
    const after = (await c.closed) - c.at;
    expect(after).toBeGreaterThanOrEqual(LIMITS.firstRequestMs - 50);
    expect(after).toBeLessThan(LIMITS.firstRequestMs + 2000);
    await eventually(() => expect(guard.stats).toMatchObject({ open: 0, unauthenticated: 0, timedOut: 1 }));
  });

  test("a TLS connection that never handshakes is closed at the handshake deadline", async () => {
    const leaf = await (await createTestPki()).issue("spiffe://cluster.local/ns/a/sa/server");
    const { port } = await guarded(LIMITS, { cert: leaf.chain.join("\n"), key: leaf.keyPem });
    const c = await connect(port, "127.0.0.2");
    const after = (await c.closed) - c.at;
    expect(after).toBeGreaterThanOrEqual(LIMITS.handshakeMs - 50);
    expect(after).toBeLessThan(LIMITS.firstRequestMs);
  });

  test("an authenticated connection outlives the deadlines while its stream is open, then goes after the idle timeout", async () => {
    const { guard, port } = await guarded(LIMITS);
    const c = await connect(port, "127.0.0.2");
    c.socket.write("A");
    await eventually(() => expect(guard.stats).toMatchObject({ open: 1, unauthenticated: 0 }));
    const watch = await connect(port, "127.0.0.3"); // a witness that the first-request deadline has passed
    await watch.closed;
    expect(c.socket.destroyed).toBe(false);
    const released = Date.now();
    c.socket.write("R");
    const after = (await c.closed) - released;
    expect(after).toBeGreaterThanOrEqual(LIMITS.idleMs - 50);
  });

  test("a source at its cap is refused; at the total cap the busiest source's oldest connection gives way", async () => {
    const { guard, port } = await guarded({ ...LIMITS, firstRequestMs: 30_000, handshakeMs: 30_000 });
    const a1 = await connect(port, "127.0.0.2");
    await connect(port, "127.0.0.2");
    await eventually(() => expect(guard.stats.unauthenticated).toBe(2));
    const refused = await connect(port, "127.0.0.2");
    await refused.closed;
    expect(guard.stats.refused).toBe(1);
    await connect(port, "127.0.0.3");
    await connect(port, "127.0.0.4");
    await eventually(() => expect(guard.stats.unauthenticated).toBe(4));
    // Full: a newcomer from a fifth address pushes out 127.0.0.2's oldest (it holds the most).
    const newcomer = await connect(port, "127.0.0.5");
    await a1.closed;
    await eventually(() => expect(guard.stats).toMatchObject({ unauthenticated: 4, evicted: 1 }));
    expect(newcomer.socket.destroyed).toBe(false);
  });
});
