/**
 * The SOCKS5 front end of the ztunnel (RFC 1928; port 15080): explicit-proxy capture for
 * development and the demo. `acceptSocks5` reads the handshake off an accepted socket (a
 * net.Socket, or any Duplex: the tests drive it in memory) with the pure parsers of
 * `socks5-protocol.ts` and hands back the destination; the caller decides where to connect (policy
 * is not ours: any IP or name is returned), answers with `reply`, and then pipes.
 *
 * Invariants:
 * - The promise resolves at most once and settles within `timeoutMs` (or on abort, close, error).
 * - On rejection the client got the answer the protocol allows (0xFF method, or a REP code; nothing
 *   to a client that does not speak SOCKS5 or that stalled mid-greeting), the socket is destroyed,
 *   and the error is a MeshError: "invalid_argument" for protocol errors and for a client that
 *   closed mid-handshake, "deadline_exceeded" for the timeout, "canceled" on abort, "unavailable"
 *   for a socket error.
 * - On resolution our listeners and timer are gone, the socket is paused, and every byte the client
 *   sent after the request is in `leftover` — nothing is lost and nothing is read twice. The caller
 *   writes `leftover` upstream first, then pipes. A no-op 'error' listener stays, so a reset between
 *   the handshake and the caller's own listeners cannot crash the process.
 * - No more than `maxHandshakeBytes` are buffered before the handshake completes.
 */
import type { Duplex } from "node:stream";
import { MeshError } from "../../errors/mesh-error.ts";
import {
  buildMethodSelection,
  buildReply,
  MAX_GREETING_BYTES,
  MAX_REQUEST_BYTES,
  METHOD_NO_AUTH,
  parseGreeting,
  parseRequest,
  Socks5Reply,
  type Socks5BoundAddress,
  type Socks5Destination,
  type Socks5ProtocolError,
} from "./socks5-protocol.ts";

export type { Socks5BoundAddress, Socks5Destination } from "./socks5-protocol.ts";
export { Socks5Reply } from "./socks5-protocol.ts";

export interface Socks5AcceptOptions {
  /** The whole handshake (greeting and request) must arrive within this. */
  readonly timeoutMs: number;
  /** Bytes buffered before the handshake completes; the default is the largest legal handshake. */
  readonly maxHandshakeBytes?: number;
  /** Drain: abandon the handshake (the socket is destroyed, the promise rejects with "canceled"). */
  readonly signal?: AbortSignal;
}

export interface Socks5Accepted {
  readonly destination: Socks5Destination;
  /**
   * Send the final reply, once. 0 (succeeded): the caller then writes `leftover` upstream and
   * pipes. Any other REP code: the socket is ended and destroyed shortly after. `bound` defaults
   * to 0.0.0.0:0. Throws MeshError: "failed_precondition" when called twice, "invalid_argument"
   * for a code or address the protocol cannot carry.
   */
  reply(code: number, bound?: Socks5BoundAddress): void;
  /** Bytes the client pipelined after its request; the start of its data stream. */
  readonly leftover: Uint8Array;
}

export const DEFAULT_MAX_HANDSHAKE_BYTES = MAX_GREETING_BYTES + MAX_REQUEST_BYTES;

/** How long a refused client gets to read our answer before the socket is destroyed anyway. */
const LINGER_MS = 1000;

export function acceptSocks5(socket: Duplex, options: Socks5AcceptOptions): Promise<Socks5Accepted> {
  const maxBytes = options.maxHandshakeBytes ?? DEFAULT_MAX_HANDSHAKE_BYTES;
  return new Promise<Socks5Accepted>((resolve, reject) => {
    let phase: "greeting" | "request" = "greeting";
    let pending: Uint8Array = new Uint8Array(0); // received, not yet consumed
    let received = 0; // handshake bytes so far, for maxHandshakeBytes
    let settled = false;

    const cleanup = () => {
      settled = true;
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("end", onEnd);
      socket.off("close", onEnd);
      socket.off("error", onError);
      options.signal?.removeEventListener("abort", onAbort);
    };

    /** Answer (or not), destroy, then reject. */
    const refuse = (error: MeshError, answer: Uint8Array | null) => {
      if (settled) return;
      cleanup();
      socket.on("error", ignore);
      void closeWith(socket, answer).then(() => reject(error));
    };

    const protocolError = (result: Socks5ProtocolError) => {
      const answer = result.reply === null ? null : phase === "greeting" ? buildMethodSelection(result.reply) : buildReply(result.reply);
      refuse(new MeshError("invalid_argument", result.message, { detail: { phase, socksReply: result.reply } }), answer);
    };

    /** For failures that are not the client's message: what may be said in this phase. */
    const phaseAnswer = () => (phase === "request" ? buildReply(Socks5Reply.generalFailure) : null);

    const onData = (chunk: Buffer) => {
      if (settled) return;
      received += chunk.length;
      pending = concat(pending, chunk);
      for (;;) {
        if (phase === "greeting") {
          const result = parseGreeting(pending);
          if (result.kind === "error") return protocolError(result);
          if (result.kind === "more") break;
          socket.write(buildMethodSelection(METHOD_NO_AUTH));
          pending = pending.subarray(result.consumed);
          phase = "request";
          continue;
        }
        const result = parseRequest(pending);
        if (result.kind === "error") return protocolError(result);
        if (result.kind === "more") break;
        // Stop reading before anything else arrives: what follows is the caller's data stream.
        socket.pause();
        cleanup();
        socket.on("error", ignore);
        return resolve(accepted(socket, result.value.destination, new Uint8Array(pending.subarray(result.consumed))));
      }
      if (received > maxBytes) {
        refuse(new MeshError("invalid_argument", `SOCKS5 handshake exceeds ${maxBytes} bytes`, { detail: { phase, maxHandshakeBytes: maxBytes } }), phaseAnswer());
      }
    };

    const onEnd = () => {
      refuse(new MeshError("invalid_argument", `SOCKS5 client closed the connection during the ${phase}`, { detail: { phase } }), null);
    };
    const onError = (err: Error) => {
      refuse(new MeshError("unavailable", `SOCKS5 handshake failed: ${err.message}`, { cause: err, detail: { phase } }), null);
    };
    const onAbort = () => {
      refuse(new MeshError("canceled", "SOCKS5 handshake abandoned: draining", { cause: options.signal?.reason, detail: { phase } }), phaseAnswer());
    };
    const onTimeout = () => {
      const what = received === 0 ? "no greeting" : `incomplete ${phase} (${pending.length} bytes)`;
      refuse(new MeshError("deadline_exceeded", `SOCKS5 handshake timed out after ${options.timeoutMs} ms: ${what}`, { detail: { phase, timeoutMs: options.timeoutMs } }), phaseAnswer());
    };

    const timer = setTimeout(onTimeout, options.timeoutMs);
    if (options.signal?.aborted) return onAbort();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    socket.on("data", onData);
    socket.on("end", onEnd);
    socket.on("close", onEnd);
    socket.on("error", onError);
    if (socket.destroyed) return onEnd();
    socket.resume();
  });
}

function accepted(socket: Duplex, destination: Socks5Destination, leftover: Uint8Array): Socks5Accepted {
  let replied = false;
  return {
    destination,
    leftover,
    reply(code: number, bound?: Socks5BoundAddress): void {
      if (replied) throw new MeshError("failed_precondition", "the SOCKS5 reply was already sent");
      const bytes = buildReply(code, bound);
      replied = true;
      if (code === Socks5Reply.succeeded) socket.write(bytes);
      else void closeWith(socket, bytes);
    },
  };
}

/** Send the last bytes (if any), then destroy; resolves once the socket is closed. */
function closeWith(socket: Duplex, last: Uint8Array | null): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve();
    const linger = setTimeout(() => socket.destroy(), LINGER_MS);
    linger.unref?.();
    socket.once("close", () => {
      clearTimeout(linger);
      resolve();
    });
    if (last === null || socket.writableEnded) socket.destroy();
    else socket.end(last, () => socket.destroy());
  });
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function ignore(): void {}
