/**
 * A raw HTTP/2 peer for abuse tests: encodes the frames a misbehaving client sends (RFC 9113 §4
 * and §6, HPACK literals without Huffman or indexing, RFC 7541 §6.2.2) and reads back the frame
 * headers the server answers with. It is deliberately not an HTTP/2 implementation: no flow
 * control, no HPACK decoding (a test asks "did stream 5 get HEADERS or RST_STREAM?", not "what
 * did the headers say"), so it can say things a well-behaved client library never would.
 */
import tls from "node:tls";

export const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

export const FrameType = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9 } as const;
export const Flag = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4 } as const;
export const ErrorCode = { NO_ERROR: 0, PROTOCOL_ERROR: 1, INTERNAL_ERROR: 2, FLOW_CONTROL_ERROR: 3, REFUSED_STREAM: 7, CANCEL: 8, ENHANCE_YOUR_CALM: 11 } as const;
export const Setting = { HEADER_TABLE_SIZE: 1, ENABLE_PUSH: 2, MAX_CONCURRENT_STREAMS: 3, INITIAL_WINDOW_SIZE: 4, MAX_FRAME_SIZE: 5, MAX_HEADER_LIST_SIZE: 6 } as const;

export function frame(type: number, flags: number, streamId: number, payload: Uint8Array = new Uint8Array(0)): Buffer {
  const out = Buffer.allocUnsafe(9 + payload.length);
  out.writeUIntBE(payload.length, 0, 3);
  out[3] = type;
  out[4] = flags;
  out.writeUInt32BE(streamId & 0x7fffffff, 5);
  out.set(payload, 9);
  return out;
}

export function settingsFrame(settings: ReadonlyArray<readonly [id: number, value: number]> = []): Buffer {
  const payload = Buffer.alloc(6 * settings.length);
  settings.forEach(([id, value], i) => {
    payload.writeUInt16BE(id, i * 6);
    payload.writeUInt32BE(value, i * 6 + 2);
  });
  return frame(FrameType.SETTINGS, 0, 0, payload);
}

export const settingsAck = (): Buffer => frame(FrameType.SETTINGS, Flag.ACK, 0);

export function pingFrame(n: number, ack = false): Buffer {
  const payload = Buffer.alloc(8);
  payload.writeUInt32BE(n >>> 0, 4);
  return frame(FrameType.PING, ack ? Flag.ACK : 0, 0, payload);
}

export function rstStreamFrame(streamId: number, code: number = ErrorCode.CANCEL): Buffer {
  const payload = Buffer.alloc(4);
  payload.writeUInt32BE(code, 0);
  return frame(FrameType.RST_STREAM, 0, streamId, payload);
}

export function windowUpdateFrame(streamId: number, increment: number): Buffer {
  const payload = Buffer.alloc(4);
  payload.writeUInt32BE(increment, 0);
  return frame(FrameType.WINDOW_UPDATE, 0, streamId, payload);
}

export function dataFrame(streamId: number, data: Uint8Array, endStream = false): Buffer {
  return frame(FrameType.DATA, endStream ? Flag.END_STREAM : 0, streamId, data);
}

/** RFC 7541 §5.1 integer with an N-bit prefix; `first` carries the bits above the prefix. */
function hpackInt(value: number, prefixBits: number, first: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [first | value];
  const out = [first | max];
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return out;
}

/** A header block of "literal without indexing, new name" fields (no dynamic table, no Huffman). */
export function hpackBlock(headers: Readonly<Record<string, string>>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(headers)) {
    const n = Buffer.from(name, "latin1");
    const v = Buffer.from(value, "latin1");
    parts.push(Buffer.from([0x00, ...hpackInt(n.length, 7, 0)]), n, Buffer.from(hpackInt(v.length, 7, 0)), v);
  }
  return Buffer.concat(parts);
}

export function headersFrame(streamId: number, headers: Readonly<Record<string, string>>, endStream = false): Buffer {
  return frame(FrameType.HEADERS, Flag.END_HEADERS | (endStream ? Flag.END_STREAM : 0), streamId, hpackBlock(headers));
}

export interface ReceivedFrame {
  readonly type: number;
  readonly flags: number;
  readonly streamId: number;
  readonly payload: Buffer;
}

/** The error code of a RST_STREAM or GOAWAY frame. */
export function errorCodeOf(f: ReceivedFrame): number | undefined {
  if (f.type === FrameType.RST_STREAM) return f.payload.readUInt32BE(0);
  if (f.type === FrameType.GOAWAY) return f.payload.readUInt32BE(4);
  return undefined;
}

/**
 * A TLS connection speaking raw frames. Everything the server sends is split into frames and kept
 * (`frames`), except that only the first `keep` are stored so a flood test cannot fill memory.
 * The server's SETTINGS are acknowledged; nothing else is answered (no PING ACK, no WINDOW_UPDATE).
 */
export class RawH2Connection {
  readonly frames: ReceivedFrame[] = [];
  /** Frames received, by type. */
  readonly counts = new Map<number, number>();
  /** The first GOAWAY, kept even when `frames` is full. */
  goaway: ReceivedFrame | undefined;
  received = 0;
  bytesReceived = 0;
  closed = false;
  readonly socket: tls.TLSSocket;
  /** The client's port, kept because the socket forgets it once closed. */
  localPort = 0;
  readonly #keep: number;
  #prefaceSent = false;
  #buffer: Buffer = Buffer.alloc(0);

  private constructor(socket: tls.TLSSocket, keep: number) {
    this.socket = socket;
    this.#keep = keep;
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("error", () => {});
    socket.once("close", () => (this.closed = true));
  }

  /** Connect with mutual TLS and ALPN h2, then send the preface and an empty SETTINGS frame. */
  static open(options: tls.ConnectionOptions & { keep?: number; preface?: boolean }): Promise<RawH2Connection> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({ ALPNProtocols: ["h2"], checkServerIdentity: () => undefined, ...options });
      const conn = new RawH2Connection(socket, options.keep ?? 1000);
      socket.once("secureConnect", () => {
        conn.localPort = socket.localPort ?? 0;
        if (options.preface !== false) {
          socket.write(Buffer.concat([PREFACE, settingsFrame()]));
          conn.#prefaceSent = true;
        }
        resolve(conn);
      });
      socket.once("error", reject);
    });
  }

  /** Write, resolving once the socket accepted it (or the socket is gone). */
  write(data: Buffer): Promise<void> {
    if (this.closed || this.socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      if (this.socket.write(data)) resolve();
      else {
        const done = () => {
          this.socket.off("drain", done);
          this.socket.off("close", done);
          resolve();
        };
        this.socket.once("drain", done);
        this.socket.once("close", done);
      }
    });
  }

  find(predicate: (f: ReceivedFrame) => boolean): ReceivedFrame | undefined {
    return this.frames.find(predicate);
  }

  count(type: number): number {
    return this.counts.get(type) ?? 0;
  }

  destroy(): void {
    this.socket.destroy();
  }

  #onData(chunk: Buffer): void {
    this.bytesReceived += chunk.length;
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    while (this.#buffer.length >= 9) {
      const length = this.#buffer.readUIntBE(0, 3);
      if (this.#buffer.length < 9 + length) break;
      const f: ReceivedFrame = { type: this.#buffer[3] as number, flags: this.#buffer[4] as number, streamId: this.#buffer.readUInt32BE(5) & 0x7fffffff, payload: this.#buffer.subarray(9, 9 + length) };
      this.#buffer = this.#buffer.subarray(9 + length);
      this.received++;
      this.counts.set(f.type, this.count(f.type) + 1);
      if (f.type === FrameType.GOAWAY) this.goaway ??= f;
      // Acknowledge the server's SETTINGS like any client, so it is not left waiting for that.
      if (f.type === FrameType.SETTINGS && !(f.flags & Flag.ACK) && this.#prefaceSent && !this.socket.destroyed) this.socket.write(settingsAck());
      if (this.frames.length < this.#keep) this.frames.push(f);
    }
  }
}
