/**
 * HTTP/2 frames (RFC 9113 §4 and §6): the 9-octet header, the control frames HBONE needs, and an
 * incremental reader fed with socket chunks.
 *
 * Reader invariants:
 * - a frame longer than our SETTINGS_MAX_FRAME_SIZE is a connection FRAME_SIZE_ERROR, detected
 *   from the header before any of its payload is buffered (§4.2);
 * - DATA payloads are never copied unless padded: an unpadded DATA frame is handed on in pieces
 *   (`onDataStart`, `onData`… views into the socket chunks, `onDataEnd`), so a 1 MiB frame costs
 *   no allocation and no copy; a padded one is assembled, checked and handed on the same way
 *   without its padding;
 * - other frames are handed on whole (`onFrame`); a payload lying inside one chunk is a
 *   `subarray` view (valid only during the call), one spanning chunks is copied into a buffer
 *   of exactly its length; non-DATA frames above `maxBufferedFrameSize` are refused with
 *   ENHANCE_YOUR_CALM before being buffered;
 * - frames of unknown type are skipped without buffering (§5.5);
 * - the reader never throws anything but an H2Error (a connection error); after one it must not
 *   be fed again.
 */
import { connectionError, H2Code } from "./errors.ts";

export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

export const Flag = {
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY: 0x20,
} as const;

export const SettingId = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
} as const;

export const FRAME_HEADER_SIZE = 9;
/** The smallest SETTINGS_MAX_FRAME_SIZE, and the default (§6.5.2). */
export const MIN_MAX_FRAME_SIZE = 16_384;
/** The largest SETTINGS_MAX_FRAME_SIZE (§6.5.2). */
export const MAX_MAX_FRAME_SIZE = 16_777_215;
export const MAX_WINDOW = 0x7fffffff;
export const DEFAULT_WINDOW = 65_535;

export const CLIENT_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

export interface FrameHeader {
  readonly length: number;
  readonly type: number;
  readonly flags: number;
  readonly streamId: number;
}

/** Write a frame header into `out` at `offset` (default: a fresh 9-octet buffer). */
export function encodeFrameHeader(length: number, type: number, flags: number, streamId: number, out: Buffer = Buffer.allocUnsafe(FRAME_HEADER_SIZE), offset = 0): Buffer {
  out[offset] = (length >>> 16) & 0xff;
  out[offset + 1] = (length >>> 8) & 0xff;
  out[offset + 2] = length & 0xff;
  out[offset + 3] = type;
  out[offset + 4] = flags;
  out.writeUInt32BE(streamId & 0x7fffffff, offset + 5);
  return out;
}

/** Read a frame header; the reserved bit of the stream id is ignored (§4.1). */
export function decodeFrameHeader(buf: Uint8Array, offset = 0): FrameHeader {
  return {
    length: ((buf[offset] as number) << 16) | ((buf[offset + 1] as number) << 8) | (buf[offset + 2] as number),
    type: buf[offset + 3] as number,
    flags: buf[offset + 4] as number,
    streamId: (((buf[offset + 5] as number) << 24) | ((buf[offset + 6] as number) << 16) | ((buf[offset + 7] as number) << 8) | (buf[offset + 8] as number)) & 0x7fffffff,
  };
}

/** A whole frame in one buffer (control frames; DATA is written as header + payload views). */
export function encodeFrame(type: number, flags: number, streamId: number, payload?: Uint8Array): Buffer {
  const length = payload?.length ?? 0;
  const out = Buffer.allocUnsafe(FRAME_HEADER_SIZE + length);
  encodeFrameHeader(length, type, flags, streamId, out, 0);
  if (payload) out.set(payload, FRAME_HEADER_SIZE);
  return out;
}

export function settingsFrame(settings: ReadonlyArray<readonly [id: number, value: number]>): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_SIZE + 6 * settings.length);
  encodeFrameHeader(6 * settings.length, FrameType.SETTINGS, 0, 0, out);
  settings.forEach(([id, value], i) => {
    out.writeUInt16BE(id, FRAME_HEADER_SIZE + 6 * i);
    out.writeUInt32BE(value >>> 0, FRAME_HEADER_SIZE + 6 * i + 2);
  });
  return out;
}

export function parseSettings(payload: Uint8Array): Array<[id: number, value: number]> {
  const out: Array<[number, number]> = [];
  const view = Buffer.from(payload.buffer, payload.byteOffset, payload.length);
  for (let i = 0; i + 6 <= payload.length; i += 6) out.push([view.readUInt16BE(i), view.readUInt32BE(i + 2)]);
  return out;
}

export function windowUpdateFrame(streamId: number, increment: number): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_SIZE + 4);
  encodeFrameHeader(4, FrameType.WINDOW_UPDATE, 0, streamId, out);
  out.writeUInt32BE(increment & 0x7fffffff, FRAME_HEADER_SIZE);
  return out;
}

export function rstStreamFrame(streamId: number, code: number): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_SIZE + 4);
  encodeFrameHeader(4, FrameType.RST_STREAM, 0, streamId, out);
  out.writeUInt32BE(code >>> 0, FRAME_HEADER_SIZE);
  return out;
}

export function goawayFrame(lastStreamId: number, code: number, debug = ""): Buffer {
  const text = Buffer.from(debug.slice(0, 256), "utf8");
  const out = Buffer.allocUnsafe(FRAME_HEADER_SIZE + 8 + text.length);
  encodeFrameHeader(8 + text.length, FrameType.GOAWAY, 0, 0, out);
  out.writeUInt32BE(lastStreamId & 0x7fffffff, FRAME_HEADER_SIZE);
  out.writeUInt32BE(code >>> 0, FRAME_HEADER_SIZE + 4);
  text.copy(out, FRAME_HEADER_SIZE + 8);
  return out;
}

export function pingFrame(payload: Uint8Array, ack: boolean): Buffer {
  return encodeFrame(FrameType.PING, ack ? Flag.ACK : 0, 0, payload);
}

/** Where the reader delivers frames. Payload views are valid only during the call. */
export interface FrameSink {
  /** A complete frame other than DATA (unknown types are skipped, never delivered). */
  onFrame(type: number, flags: number, streamId: number, payload: Buffer): void;
  /** A DATA frame begins; `length` is the whole frame payload, padding included (flow control). */
  onDataStart(flags: number, streamId: number, length: number): void;
  /** A piece of the DATA frame's content (padding removed). */
  onData(piece: Buffer): void;
  onDataEnd(): void;
}

export interface FrameReaderOptions {
  /** Our SETTINGS_MAX_FRAME_SIZE: longer frames are a FRAME_SIZE_ERROR. */
  readonly maxFrameSize: number;
  /** The longest non-DATA frame we buffer (default: maxFrameSize); longer is ENHANCE_YOUR_CALM. */
  readonly maxBufferedFrameSize?: number;
}

const enum State {
  Header,
  Buffered,
  Data,
  Skip,
}

export class FrameReader {
  readonly #sink: FrameSink;
  readonly #maxFrameSize: number;
  readonly #maxBuffered: number;
  readonly #header = Buffer.alloc(FRAME_HEADER_SIZE);
  #headerFill = 0;
  #state = State.Header;
  #type = 0;
  #flags = 0;
  #streamId = 0;
  #length = 0;
  /** Octets of the current payload still to come. */
  #remaining = 0;
  /** For a buffered frame spanning chunks: the assembly buffer. */
  #assembly: Buffer | undefined;

  constructor(sink: FrameSink, options: FrameReaderOptions) {
    this.#sink = sink;
    this.#maxFrameSize = options.maxFrameSize;
    this.#maxBuffered = Math.min(options.maxBufferedFrameSize ?? options.maxFrameSize, options.maxFrameSize);
  }

  push(chunk: Buffer): void {
    let pos = 0;
    const end = chunk.length;
    while (pos < end) {
      switch (this.#state) {
        case State.Header: {
          if (this.#headerFill === 0 && end - pos >= FRAME_HEADER_SIZE) {
            this.#begin(chunk, pos);
            pos += FRAME_HEADER_SIZE;
          } else {
            const n = Math.min(FRAME_HEADER_SIZE - this.#headerFill, end - pos);
            chunk.copy(this.#header, this.#headerFill, pos, pos + n);
            this.#headerFill += n;
            pos += n;
            if (this.#headerFill < FRAME_HEADER_SIZE) return;
            this.#headerFill = 0;
            this.#begin(this.#header, 0);
          }
          // A zero-length buffered frame completes at once (DATA and skipped ones did in #begin).
          if (this.#remaining === 0 && (this.#state as State) === State.Buffered) this.#complete(chunk, pos, pos);
          break;
        }
        case State.Data: {
          const n = Math.min(this.#remaining, end - pos);
          this.#remaining -= n;
          this.#sink.onData(pos === 0 && n === end ? chunk : chunk.subarray(pos, pos + n));
          pos += n;
          if (this.#remaining === 0) {
            this.#state = State.Header;
            this.#sink.onDataEnd();
          }
          break;
        }
        case State.Skip: {
          const n = Math.min(this.#remaining, end - pos);
          this.#remaining -= n;
          pos += n;
          if (this.#remaining === 0) this.#state = State.Header;
          break;
        }
        case State.Buffered: {
          const n = Math.min(this.#remaining, end - pos);
          if (!this.#assembly && n === this.#remaining) {
            // The whole payload is in this chunk: a view, no copy.
            pos += n;
            this.#remaining = 0;
            this.#complete(chunk, pos - n, pos);
            break;
          }
          this.#assembly ??= Buffer.allocUnsafe(this.#length);
          chunk.copy(this.#assembly, this.#length - this.#remaining, pos, pos + n);
          this.#remaining -= n;
          pos += n;
          if (this.#remaining === 0) {
            const whole = this.#assembly;
            this.#assembly = undefined;
            this.#complete(whole, 0, whole.length);
          }
          break;
        }
      }
    }
  }

  #begin(buf: Buffer, at: number): void {
    const length = ((buf[at] as number) << 16) | ((buf[at + 1] as number) << 8) | (buf[at + 2] as number);
    const type = buf[at + 3] as number;
    this.#type = type;
    this.#flags = buf[at + 4] as number;
    this.#streamId = (((buf[at + 5] as number) << 24) | ((buf[at + 6] as number) << 16) | ((buf[at + 7] as number) << 8) | (buf[at + 8] as number)) & 0x7fffffff;
    this.#length = length;
    this.#remaining = length;
    if (length > this.#maxFrameSize) throw connectionError(H2Code.FRAME_SIZE_ERROR, `frame of ${length} octets above our maximum of ${this.#maxFrameSize}`);
    if (type === FrameType.DATA && (this.#flags & Flag.PADDED) === 0) {
      this.#state = State.Data;
      this.#sink.onDataStart(this.#flags, this.#streamId, length);
      if (length === 0) {
        this.#state = State.Header;
        this.#sink.onDataEnd();
      }
      return;
    }
    if (type > FrameType.CONTINUATION) {
      this.#state = length === 0 ? State.Header : State.Skip;
      return;
    }
    if (type !== FrameType.DATA && length > this.#maxBuffered) throw connectionError(H2Code.ENHANCE_YOUR_CALM, `frame of type ${type} with ${length} octets above the ${this.#maxBuffered} we buffer`);
    this.#state = State.Buffered;
  }

  /** The buffered frame's payload is buf[start, end). */
  #complete(buf: Buffer, start: number, end: number): void {
    this.#state = State.Header;
    const payload = start === 0 && end === buf.length ? buf : buf.subarray(start, end);
    if (this.#type !== FrameType.DATA) {
      this.#sink.onFrame(this.#type, this.#flags, this.#streamId, payload);
      return;
    }
    // A padded DATA frame: Pad Length, content, padding (§6.1).
    if (payload.length < 1) throw connectionError(H2Code.FRAME_SIZE_ERROR, "padded DATA frame without a pad length");
    const pad = payload[0] as number;
    if (pad >= payload.length) throw connectionError(H2Code.PROTOCOL_ERROR, "DATA padding as long as the frame");
    this.#sink.onDataStart(this.#flags, this.#streamId, payload.length);
    if (payload.length - 1 - pad > 0) this.#sink.onData(payload.subarray(1, payload.length - pad));
    this.#sink.onDataEnd();
  }
}
