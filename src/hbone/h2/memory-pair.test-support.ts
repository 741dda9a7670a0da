/**
 * In-memory test plumbing for the lean HTTP/2 layer: a connected pair of Duplex "sockets" (what
 * one writes the other reads, with no buffer limit, so only HTTP/2 flow control holds data
 * back), and a raw frame peer that says whatever a test wants and records what it gets.
 */
import { Duplex } from "node:stream";
import { CLIENT_PREFACE, encodeFrame, FrameReader, FrameType, settingsFrame, type FrameSink } from "./frames.ts";
import { HpackEncoder, type HeaderField } from "./hpack.ts";

/** Two connected Duplexes. Closing or destroying one ends or destroys the other. */
export function memoryPair(): [Duplex, Duplex] {
  const make = (): Duplex & { peer?: Duplex } =>
    new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        (this as Duplex & { peer: Duplex }).peer.push(chunk);
        cb();
      },
      final(cb) {
        (this as Duplex & { peer: Duplex }).peer.push(null);
        cb();
      },
      destroy(err, cb) {
        const peer = (this as Duplex & { peer: Duplex }).peer;
        if (!peer.destroyed) peer.destroy();
        cb(err);
      },
    });
  const a = make();
  const b = make();
  a.peer = b;
  b.peer = a;
  return [a, b];
}

export interface RawFrame {
  readonly type: number;
  readonly flags: number;
  readonly streamId: number;
  readonly payload: Buffer;
}

/** A raw HTTP/2 peer on a Duplex: writes frames verbatim, records every frame received. */
export class RawPeer {
  readonly frames: RawFrame[] = [];
  readonly socket: Duplex;
  readonly encoder = new HpackEncoder();
  closed = false;
  #data: { flags: number; streamId: number; parts: Buffer[] } | undefined;

  constructor(socket: Duplex, role: "client" | "server", options: { preface?: boolean } = {}) {
    this.socket = socket;
    const sink: FrameSink = {
      onFrame: (type, flags, streamId, payload) => this.frames.push({ type, flags, streamId, payload: Buffer.from(payload) }),
      onDataStart: (flags, streamId) => (this.#data = { flags, streamId, parts: [] }),
      onData: (piece) => this.#data?.parts.push(Buffer.from(piece)),
      onDataEnd: () => {
        const d = this.#data;
        if (d) this.frames.push({ type: FrameType.DATA, flags: d.flags, streamId: d.streamId, payload: Buffer.concat(d.parts) });
      },
    };
    const reader = new FrameReader(sink, { maxFrameSize: 16_777_215 });
    let prefaceLeft = role === "server" ? CLIENT_PREFACE.length : 0;
    socket.on("data", (chunk: Buffer) => {
      if (prefaceLeft > 0) {
        const n = Math.min(prefaceLeft, chunk.length);
        prefaceLeft -= n;
        chunk = chunk.subarray(n);
      }
      if (chunk.length > 0) reader.push(chunk);
    });
    socket.on("error", () => {});
    socket.once("close", () => (this.closed = true));
    socket.once("end", () => (this.closed = true));
    if (options.preface !== false) socket.write(Buffer.concat([role === "client" ? CLIENT_PREFACE : Buffer.alloc(0), settingsFrame([])]));
  }

  send(...frames: Buffer[]): void {
    if (!this.socket.destroyed) this.socket.write(Buffer.concat(frames));
  }

  headers(streamId: number, fields: HeaderField[], flags: number): Buffer {
    return encodeFrame(FrameType.HEADERS, flags, streamId, this.encoder.encode(fields));
  }

  find(predicate: (f: RawFrame) => boolean): RawFrame | undefined {
    return this.frames.find(predicate);
  }

  goaway(): { lastStreamId: number; code: number } | undefined {
    const f = this.frames.find((x) => x.type === FrameType.GOAWAY);
    return f ? { lastStreamId: f.payload.readUInt32BE(0), code: f.payload.readUInt32BE(4) } : undefined;
  }

  rst(streamId: number): number | undefined {
    return this.frames.find((x) => x.type === FrameType.RST_STREAM && x.streamId === streamId)?.payload.readUInt32BE(0);
  }
}
