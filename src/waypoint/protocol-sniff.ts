/**
 * Which HTTP a tunnel speaks, for ports whose protocol is `auto`: HTTP/2 with prior knowledge
 * starts with the connection preface (RFC 9113 §3.4), anything else is taken as HTTP/1.1.
 * `classifyPrefix` decides from the bytes seen so far (pure); `sniffHttp` reads just enough of the
 * stream and puts the bytes back (`unshift`), so the engine that serves the tunnel reads them again.
 *
 * Invariants: no byte is lost or reordered; the wait is bounded — a client that sends nothing, or
 * stops inside the preface, before the deadline gets a MeshError (the caller logs and closes).
 */
import type { Duplex } from "node:stream";
import { MeshError } from "../errors/mesh-error.ts";

export const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

export type SniffedHttp = "http1" | "http2";

/** `more`: the bytes so far are a strict prefix of the HTTP/2 preface. */
export function classifyPrefix(seen: Uint8Array): SniffedHttp | "more" {
  const n = Math.min(seen.length, H2_PREFACE.length);
  for (let i = 0; i < n; i++) if (seen[i] !== H2_PREFACE[i]) return "http1";
  return seen.length >= H2_PREFACE.length ? "http2" : "more";
}

/** Read until the protocol is known, then give the bytes back to the stream. */
export function sniffHttp(stream: Duplex, timeoutMs: number): Promise<SniffedHttp | MeshError> {
  return new Promise((resolve) => {
    let seen: Buffer = Buffer.alloc(0);
    const done = (outcome: SniffedHttp | MeshError) => {
      clearTimeout(timer);
      stream.off("readable", onReadable);
      stream.off("end", onEnd);
      stream.off("close", onEnd);
      // Only a decided tunnel is served; a refused one is closed by the caller, its bytes dropped.
      if (!(outcome instanceof MeshError)) stream.unshift(seen);
      resolve(outcome);
    };
    const why = () => (seen.length === 0 ? "no bytes" : `${seen.length} bytes of the HTTP/2 preface and no more`);
    const timer = setTimeout(() => done(new MeshError("deadline_exceeded", `protocol detection: ${why()} within ${timeoutMs} ms`)), timeoutMs);
    const onEnd = () => done(new MeshError("invalid_argument", `protocol detection: the client closed after ${why()}`));
    const onReadable = () => {
      let chunk: Buffer | null;
      while ((chunk = stream.read() as Buffer | null) !== null) {
        seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
        const kind = classifyPrefix(seen);
        if (kind !== "more") return done(kind);
      }
    };
    stream.on("readable", onReadable);
    stream.once("end", onEnd);
    stream.once("close", onEnd);
  });
}
