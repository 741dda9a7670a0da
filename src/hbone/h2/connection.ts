/**
 * A lean HTTP/2 connection (RFC 9113) for HBONE: CONNECT streams over one socket (the mutual-TLS
 * socket; any Duplex works), client and server roles sharing one core. Only what HBONE needs:
 * no push, no priorities, no HTTP semantics beyond header syntax; the caller decides what a
 * request means (`H2ServerConnection`'s `onStream`) and what a response means (`request()`).
 *
 * Wire behaviour:
 * - preface: the client sends the connection preface; both send SETTINGS (ENABLE_PUSH 0,
 *   MAX_CONCURRENT_STREAMS (server), INITIAL_WINDOW_SIZE, MAX_FRAME_SIZE, MAX_HEADER_LIST_SIZE)
 *   and at once a WINDOW_UPDATE raising the connection window to `connectionWindowSize`; the
 *   peer's first frame must be SETTINGS (§3.4);
 * - DATA out: a write becomes DATA frames of up to the peer's MAX_FRAME_SIZE, each written as a
 *   9-octet header and a view of the caller's buffer (never concatenated by us). Small frames and
 *   control frames are written while the socket is corked and leave in one batch per tick;
 *   payloads of 32 KiB and more are written uncorked (Bun joins corked writes by copying);
 * - send windows (stream and connection) are honoured: what does not fit waits in the stream's
 *   queue with its write callback held (so the writer feels backpressure), and blocked streams
 *   resume round-robin, one frame each per turn, when WINDOW_UPDATE arrives;
 * - a write callback waits for the socket's 'drain' whenever the socket said it is full (and
 *   holds more than `socketBudget`, default 0), so a slow network backpressures every writer
 *   instead of filling memory, and the socket's own buffer rarely holds more than one frame
 *   (when it holds several, Bun's net layer concatenates them: a copy per byte, measured at
 *   +0.3 s CPU per GiB on the sender);
 * - receive windows: the connection window is given back as DATA arrives (it never pins: a
 *   tunnel whose reader stalls holds at most its stream window, and the others go on); a stream
 *   window is given back as the application reads (half a window at a time), so memory per
 *   stream is bounded by the stream window;
 * - GOAWAY: `close()` sends it with the last peer stream id, refuses new streams and ends the
 *   socket once the open streams finish; a received one refuses our streams above its last id
 *   (REFUSED_STREAM, safe to retry) and lets the others finish;
 * - errors: a connection error sends GOAWAY with its code and closes; a stream error sends
 *   RST_STREAM and leaves the other streams alone. Every frame from the peer is checked
 *   (lengths, stream ids and states, flow-control overflow, header syntax §8.2-8.3).
 *
 * Abuse bounds (each ends in GOAWAY ENHANCE_YOUR_CALM and close):
 * - SETTINGS, PING, PRIORITY and empty DATA/HEADERS/CONTINUATION frames: `maxControlFrames`
 *   per `abuseWindowMs`;
 * - streams reset by the peer before they were answered (rapid reset, CVE-2023-44487) and
 *   streams we had to refuse: `maxPeerResets` per `abuseWindowMs`;
 * - header blocks: `maxHeaderBlockSize` octets compressed (HEADERS + CONTINUATION); a decoded list
 *   beyond `maxHeaderListSize` only resets its stream.
 */
import { EventEmitter } from "node:events";
import type { Duplex } from "node:stream";
import { connectionError, H2Code, H2Error, h2CodeName, streamError } from "./errors.ts";
import {
  CLIENT_PREFACE,
  DEFAULT_WINDOW,
  encodeFrameHeader,
  Flag,
  FRAME_HEADER_SIZE,
  FrameReader,
  FrameType,
  goawayFrame,
  MAX_MAX_FRAME_SIZE,
  MAX_WINDOW,
  MIN_MAX_FRAME_SIZE,
  parseSettings,
  pingFrame,
  rstStreamFrame,
  SettingId,
  settingsFrame,
  windowUpdateFrame,
  type FrameSink,
} from "./frames.ts";
import { HpackDecoder, HpackEncoder, type HeaderField } from "./hpack.ts";
import { H2Stream, type H2Headers, type StreamHost } from "./stream.ts";

export { H2Stream, type H2Headers } from "./stream.ts";

export interface H2Options {
  /** SETTINGS_INITIAL_WINDOW_SIZE we advertise: each stream's receive window. */
  readonly initialWindowSize: number;
  /** The connection receive window (raised by a WINDOW_UPDATE right after SETTINGS). */
  readonly connectionWindowSize: number;
  /** SETTINGS_MAX_FRAME_SIZE we advertise: the largest frame we accept. */
  readonly maxFrameSize: number;
  /** SETTINGS_MAX_CONCURRENT_STREAMS a server advertises and enforces. */
  readonly maxConcurrentStreams: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE we advertise; larger decoded lists reset their stream. */
  readonly maxHeaderListSize: number;
  /** Largest compressed header block (HEADERS + CONTINUATION) we buffer. */
  readonly maxHeaderBlockSize: number;
  /** SETTINGS/PING/PRIORITY/empty frames per `abuseWindowMs`. */
  readonly maxControlFrames: number;
  /** Streams the peer reset before an answer (within `earlyResetMs` of opening them), plus streams we refused, per `abuseWindowMs`. */
  readonly maxPeerResets: number;
  /**
   * A reset counts against `maxPeerResets` only this soon after the stream opened: a stream held
   * open longer already counted against the concurrency limit (e.g. a client's own timeout).
   */
  readonly earlyResetMs: number;
  readonly abuseWindowMs: number;
  /** highWaterMark of each stream's readable and writable side. */
  readonly streamHighWaterMark: number;
  /** Socket buffer above which write callbacks wait for 'drain' (once the socket reported full). */
  readonly socketBudget: number;
  /** Huffman-code our header strings. */
  readonly huffman: boolean;
  readonly now: () => number;
}

export const DEFAULT_H2_OPTIONS: H2Options = {
  initialWindowSize: 4 * 1024 * 1024,
  connectionWindowSize: 16 * 1024 * 1024,
  maxFrameSize: 1024 * 1024,
  maxConcurrentStreams: 100,
  maxHeaderListSize: 16 * 1024,
  maxHeaderBlockSize: 32 * 1024,
  maxControlFrames: 1000,
  maxPeerResets: 100,
  earlyResetMs: 1000,
  abuseWindowMs: 10_000,
  streamHighWaterMark: 256 * 1024,
  socketBudget: 0,
  huffman: false,
  now: Date.now,
};

export interface H2Response {
  readonly status: number;
  readonly headers: H2Headers;
  readonly stream: H2Stream;
}

export interface RequestOptions {
  /** Cancels the request (RST_STREAM CANCEL) while it waits for the response. */
  readonly signal?: AbortSignal;
  /** Send END_STREAM with the HEADERS (no request body). */
  readonly endStream?: boolean;
}

/** Server: called for each well-formed request. `respond` sends :status (and extra headers). */
export type OnStream = (headers: H2Headers, stream: H2Stream, respond: (status: number, endStream?: boolean, headers?: Readonly<Record<string, string>>) => boolean) => void;

const REQUEST_PSEUDO = new Set([":method", ":scheme", ":authority", ":path", ":protocol"]);
const CONNECTION_SPECIFIC = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"]);
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;
// Field values: no NUL/CR/LF anywhere, no whitespace at either end (RFC 9113 §8.2.1).
const BAD_VALUE = /[\0\r\n]|^[ \t]|[ \t]$/;

interface AbuseCounters {
  windowStart: number;
  controlFrames: number;
  resets: number;
}

/**
 * The shared core. Events: "goaway" (code: number, lastStreamId: number) when the peer sends
 * GOAWAY; "close" (error?: H2Error) once, when the socket is gone and every stream ended. It never
 * emits "error": failures come with "close" and on the streams.
 */
export abstract class H2Connection extends EventEmitter implements FrameSink, StreamHost {
  readonly socket: Duplex;
  protected readonly o: H2Options;
  protected readonly streams = new Map<number, H2Stream>();
  readonly #reader: FrameReader;
  readonly #decoder: HpackDecoder;
  readonly #encoder: HpackEncoder;
  readonly #isServer: boolean;

  // Peer settings.
  #peerInitialWindow = DEFAULT_WINDOW;
  #peerMaxFrameSize = MIN_MAX_FRAME_SIZE;
  protected peerMaxConcurrentStreams = Infinity;
  #peerHeaderTableSize = 4096;
  #gotPeerSettings = false;

  // Connection flow control.
  #sendWindow = DEFAULT_WINDOW;
  #recvWindow: number;
  #recvUncredited = 0;
  /** Streams with queued data or END_STREAM waiting for window, in round-robin order. */
  readonly #blocked = new Set<H2Stream>();

  // Stream ids.
  protected nextStreamId: number;
  protected lastPeerStreamId = 0;

  // Header block being assembled from HEADERS + CONTINUATION.
  #continuation: { streamId: number; flags: number; parts: Buffer[]; size: number } | undefined;

  // Current DATA frame being received.
  #dataStream: H2Stream | undefined;
  #dataFlags = 0;
  #dataLength = 0;
  #dataSeen = 0;

  // Socket writing.
  #corked = false;
  #drainWaiters: Array<(err?: Error | null) => void> = [];
  readonly #uncork = () => {
    this.#corked = false;
    this.socket.uncork();
  };

  // Lifecycle.
  #prefaceLeft: number;
  #goawaySent = false;
  protected goawayReceived = false;
  #closing = false;
  #closed = false;
  #error: H2Error | undefined;
  readonly #abuse: AbuseCounters;
  readonly #pings = new Map<string, () => void>();

  protected constructor(socket: Duplex, isServer: boolean, options: Partial<H2Options>) {
    super();
    this.socket = socket;
    this.o = { ...DEFAULT_H2_OPTIONS, ...options };
    if (this.o.maxFrameSize < MIN_MAX_FRAME_SIZE || this.o.maxFrameSize > MAX_MAX_FRAME_SIZE) throw new RangeError(`maxFrameSize ${this.o.maxFrameSize} outside ${MIN_MAX_FRAME_SIZE}..${MAX_MAX_FRAME_SIZE}`);
    this.#isServer = isServer;
    this.nextStreamId = isServer ? 2 : 1;
    this.#prefaceLeft = isServer ? CLIENT_PREFACE.length : 0;
    this.#recvWindow = this.o.connectionWindowSize;
    this.#reader = new FrameReader(this, { maxFrameSize: this.o.maxFrameSize, maxBufferedFrameSize: Math.max(this.o.maxHeaderBlockSize, MIN_MAX_FRAME_SIZE) });
    this.#decoder = new HpackDecoder({ maxTableSize: 4096, maxHeaderListSize: this.o.maxHeaderListSize });
    this.#encoder = new HpackEncoder({ huffman: this.o.huffman });
    this.#abuse = { windowStart: this.o.now(), controlFrames: 0, resets: 0 };

    socket.on("data", (chunk: Buffer) => this.#onSocketData(chunk));
    socket.on("drain", () => this.#onDrain());
    socket.on("error", (err: Error) => {
      this.#error ??= new H2Error(H2Code.INTERNAL_ERROR, "connection", `socket error: ${err.message}`, { cause: err });
    });
    socket.on("end", () => this.#onSocketEnd());
    socket.once("close", () => this.#onSocketClose());

    // Our preface: (client magic) SETTINGS, then the connection window raised at once.
    if (!isServer) this.#write(CLIENT_PREFACE);
    const settings: Array<[number, number]> = [
      [SettingId.ENABLE_PUSH, 0],
      [SettingId.INITIAL_WINDOW_SIZE, this.o.initialWindowSize],
      [SettingId.MAX_FRAME_SIZE, this.o.maxFrameSize],
      [SettingId.MAX_HEADER_LIST_SIZE, this.o.maxHeaderListSize],
    ];
    if (isServer) settings.push([SettingId.MAX_CONCURRENT_STREAMS, this.o.maxConcurrentStreams]);
    this.#write(settingsFrame(settings));
    if (this.o.connectionWindowSize > DEFAULT_WINDOW) this.#write(windowUpdateFrame(0, this.o.connectionWindowSize - DEFAULT_WINDOW));
  }

  /** Streams open or half-closed on this connection. */
  get streamCount(): number {
    return this.streams.size;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** No new streams: GOAWAY sent or received, or closed. */
  get draining(): boolean {
    return this.#goawaySent || this.goawayReceived || this.#closed;
  }

  /** Measure a round trip with PING; resolves with milliseconds. */
  ping(): Promise<number> {
    if (this.#closed) return Promise.reject(new H2Error(H2Code.NO_ERROR, "connection", "connection closed"));
    const payload = Buffer.allocUnsafe(8);
    const started = this.o.now();
    payload.writeDoubleBE(Math.random());
    return new Promise((resolve) => {
      this.#pings.set(payload.toString("hex"), () => resolve(this.o.now() - started));
      this.#write(pingFrame(payload, false));
    });
  }

  /** Graceful close: GOAWAY now, the socket ends when the open streams are done. */
  close(): void {
    if (this.#closed) return;
    this.#closing = true;
    this.#sendGoaway(H2Code.NO_ERROR, "");
    this.#maybeFinish();
  }

  /** Close now: every open stream is cut (`code` goes in the GOAWAY). */
  destroy(error?: Error, code: number = H2Code.NO_ERROR): void {
    if (this.#closed) return;
    const err = error === undefined ? undefined : error instanceof H2Error ? error : new H2Error(code, "connection", error.message, { cause: error });
    this.#error ??= err;
    this.#sendGoaway(code, err?.message ?? "");
    this.#teardown(err ?? new H2Error(H2Code.CANCEL, "connection", "connection destroyed"));
    this.socket.destroy();
  }

  // ---------------------------------------------------------------- receiving

  #onSocketData(chunk: Buffer): void {
    if (this.#closed) return;
    try {
      if (this.#prefaceLeft > 0) {
        const n = Math.min(this.#prefaceLeft, chunk.length);
        const at = CLIENT_PREFACE.length - this.#prefaceLeft;
        if (!chunk.subarray(0, n).equals(CLIENT_PREFACE.subarray(at, at + n))) throw connectionError(H2Code.PROTOCOL_ERROR, "not an HTTP/2 connection preface");
        this.#prefaceLeft -= n;
        if (n === chunk.length) return;
        chunk = chunk.subarray(n);
      }
      this.#reader.push(chunk);
    } catch (err) {
      this.#fail(err);
    }
  }

  /** A connection error (or a bug) while handling input. */
  #fail(err: unknown): void {
    const e = err instanceof H2Error ? err : new H2Error(H2Code.INTERNAL_ERROR, "connection", err instanceof Error ? err.message : String(err), { cause: err });
    if (e.scope === "stream") {
      // Never thrown from the frame handlers (they reset streams directly), but be safe.
      this.#fail(new H2Error(e.h2Code, "connection", e.message));
      return;
    }
    if (this.#closed) return;
    this.#error ??= e;
    this.#sendGoaway(e.h2Code, e.message);
    this.#teardown(e);
    this.socket.end();
    // A peer that does not close its side is cut off.
    setTimeout(() => this.socket.destroy(), 1000).unref?.();
  }

  #checkPreamble(type: number): void {
    if (!this.#gotPeerSettings) {
      if (type !== FrameType.SETTINGS) throw connectionError(H2Code.PROTOCOL_ERROR, "the first frame was not SETTINGS");
    }
    if (this.#continuation && type !== FrameType.CONTINUATION) throw connectionError(H2Code.PROTOCOL_ERROR, "a frame between HEADERS and its CONTINUATION");
  }

  onDataStart(flags: number, streamId: number, length: number): void {
    this.#checkPreamble(FrameType.DATA);
    if (streamId === 0) throw connectionError(H2Code.PROTOCOL_ERROR, "DATA on stream 0");
    // The connection window is charged for every DATA frame, whatever its stream (§6.9).
    this.#recvWindow -= length;
    if (this.#recvWindow < 0) throw connectionError(H2Code.FLOW_CONTROL_ERROR, "peer overran the connection window");
    this.#recvUncredited += length;
    if (this.#recvUncredited >= this.o.connectionWindowSize / 2) {
      this.#write(windowUpdateFrame(0, this.#recvUncredited));
      this.#recvWindow += this.#recvUncredited;
      this.#recvUncredited = 0;
    }
    if (length === 0 && (flags & Flag.END_STREAM) === 0) this.#countControlFrame();
    this.#dataFlags = flags;
    this.#dataLength = length;
    this.#dataSeen = 0;
    this.#dataStream = undefined;
    const stream = this.streams.get(streamId);
    if (!stream) {
      if (this.#isIdle(streamId)) throw connectionError(H2Code.PROTOCOL_ERROR, `DATA on idle stream ${streamId}`);
      return; // a stream already closed (we reset it, or it finished): ignored
    }
    if (stream.endReceived) {
      this.#resetStream(stream, streamError(H2Code.STREAM_CLOSED, `DATA after END_STREAM on stream ${streamId}`));
      return;
    }
    if (!this.#isServer && !stream.responded) {
      this.#resetStream(stream, streamError(H2Code.PROTOCOL_ERROR, `DATA before the response HEADERS on stream ${streamId}`));
      return;
    }
    stream.recvWindow -= length;
    if (stream.recvWindow < 0) {
      this.#resetStream(stream, streamError(H2Code.FLOW_CONTROL_ERROR, `peer overran the window of stream ${streamId}`));
      return;
    }
    this.#dataStream = stream;
  }

  onData(piece: Buffer): void {
    const stream = this.#dataStream;
    if (!stream) return;
    this.#dataSeen += piece.length;
    if (stream.destroyed || stream.readableEnded) {
      stream.freeCredit += piece.length;
      return;
    }
    stream.pushed += piece.length;
    stream.push(piece);
  }

  onDataEnd(): void {
    const stream = this.#dataStream;
    this.#dataStream = undefined;
    if (!stream) return;
    // Padding is never read by anyone: give it back at once.
    stream.freeCredit += this.#dataLength - this.#dataSeen;
    if (this.#dataFlags & Flag.END_STREAM) this.#endReceived(stream);
    else this.read(stream);
  }

  onFrame(type: number, flags: number, streamId: number, payload: Buffer): void {
    this.#checkPreamble(type);
    switch (type) {
      case FrameType.HEADERS:
        return this.#onHeaders(flags, streamId, payload);
      case FrameType.CONTINUATION:
        return this.#onContinuation(flags, streamId, payload);
      case FrameType.PRIORITY:
        if (streamId === 0) throw connectionError(H2Code.PROTOCOL_ERROR, "PRIORITY on stream 0");
        this.#countControlFrame();
        if (payload.length !== 5) {
          const s = this.streams.get(streamId);
          if (s) this.#resetStream(s, streamError(H2Code.FRAME_SIZE_ERROR, "PRIORITY frame not 5 octets"));
          else this.#write(rstStreamFrame(streamId, H2Code.FRAME_SIZE_ERROR));
        }
        return; // priorities are ignored (RFC 9113 §5.3.2)
      case FrameType.RST_STREAM:
        return this.#onRstStream(streamId, payload);
      case FrameType.SETTINGS:
        return this.#onSettings(flags, streamId, payload);
      case FrameType.PUSH_PROMISE:
        throw connectionError(H2Code.PROTOCOL_ERROR, "PUSH_PROMISE while push is disabled");
      case FrameType.PING:
        return this.#onPing(flags, streamId, payload);
      case FrameType.GOAWAY:
        return this.#onGoaway(streamId, payload);
      case FrameType.WINDOW_UPDATE:
        return this.#onWindowUpdate(streamId, payload);
    }
  }

  #onHeaders(flags: number, streamId: number, payload: Buffer): void {
    if (streamId === 0) throw connectionError(H2Code.PROTOCOL_ERROR, "HEADERS on stream 0");
    let start = 0;
    let end = payload.length;
    if (flags & Flag.PADDED) {
      if (payload.length < 1) throw connectionError(H2Code.FRAME_SIZE_ERROR, "padded HEADERS without a pad length");
      const pad = payload[0] as number;
      start = 1;
      end -= pad;
    }
    if (flags & Flag.PRIORITY) start += 5;
    if (end < start) throw connectionError(H2Code.PROTOCOL_ERROR, "HEADERS padding or priority longer than the frame");
    const fragment = payload.subarray(start, end);
    if (fragment.length === 0 && (flags & Flag.END_HEADERS) === 0) this.#countControlFrame();
    if (flags & Flag.END_HEADERS) {
      this.#onHeaderBlock(streamId, flags, fragment);
      return;
    }
    if (fragment.length > this.o.maxHeaderBlockSize) throw connectionError(H2Code.ENHANCE_YOUR_CALM, `header block above ${this.o.maxHeaderBlockSize} octets`);
    // The payload view dies with this call: keep a copy until END_HEADERS.
    this.#continuation = { streamId, flags, parts: [Buffer.from(fragment)], size: fragment.length };
  }

  #onContinuation(flags: number, streamId: number, payload: Buffer): void {
    const c = this.#continuation;
    if (!c || c.streamId !== streamId) throw connectionError(H2Code.PROTOCOL_ERROR, `CONTINUATION without HEADERS on stream ${streamId}`);
    if (payload.length === 0 && (flags & Flag.END_HEADERS) === 0) this.#countControlFrame();
    c.size += payload.length;
    if (c.size > this.o.maxHeaderBlockSize) throw connectionError(H2Code.ENHANCE_YOUR_CALM, `header block above ${this.o.maxHeaderBlockSize} octets`);
    c.parts.push(Buffer.from(payload));
    if ((flags & Flag.END_HEADERS) === 0) return;
    this.#continuation = undefined;
    this.#onHeaderBlock(streamId, c.flags, Buffer.concat(c.parts, c.size));
  }

  #onHeaderBlock(streamId: number, flags: number, block: Buffer): void {
    // Always decode: the HPACK context must follow the peer's even for streams we ignore.
    const decoded = this.#decoder.decode(block);
    const endStream = (flags & Flag.END_STREAM) !== 0;
    const stream = this.streams.get(streamId);
    if (!stream) {
      if (!this.#isServer || streamId % 2 === 0) {
        // A client gets no new streams (push is off); a server gets only odd ids from clients.
        if (this.#isIdle(streamId)) throw connectionError(H2Code.PROTOCOL_ERROR, `HEADERS opening stream ${streamId}`);
        return; // a stream we already closed
      }
      if (streamId <= this.lastPeerStreamId) return; // closed (reset or finished): ignored
      this.lastPeerStreamId = streamId;
      this.#onRequest(streamId, endStream, decoded.fields, decoded.oversize);
      return;
    }
    if (decoded.oversize) {
      this.#resetStream(stream, streamError(H2Code.ENHANCE_YOUR_CALM, `header list above ${this.o.maxHeaderListSize} octets`));
      return;
    }
    if (stream.endReceived) {
      this.#resetStream(stream, streamError(H2Code.STREAM_CLOSED, `HEADERS after END_STREAM on stream ${streamId}`));
      return;
    }
    if (!this.#isServer && !stream.responded) {
      this.#onResponseHeaders(stream, endStream, decoded.fields);
      return;
    }
    // Trailers: must end the stream and carry no pseudo-header (§8.1).
    if (!endStream || decoded.fields.some(([n]) => n.startsWith(":"))) {
      this.#resetStream(stream, streamError(H2Code.PROTOCOL_ERROR, `malformed trailers on stream ${streamId}`));
      return;
    }
    this.#endReceived(stream);
  }

  #onRequest(streamId: number, endStream: boolean, fields: HeaderField[], oversize: boolean): void {
    if (this.#goawaySent || this.#closed) {
      this.#write(rstStreamFrame(streamId, H2Code.REFUSED_STREAM));
      return;
    }
    if (oversize) {
      this.#write(rstStreamFrame(streamId, H2Code.ENHANCE_YOUR_CALM));
      this.#countReset();
      return;
    }
    if (this.streams.size >= this.o.maxConcurrentStreams) {
      this.#write(rstStreamFrame(streamId, H2Code.REFUSED_STREAM));
      this.#countReset();
      return;
    }
    const headers = toHeaders(fields, "request");
    if (typeof headers === "string") {
      this.#write(rstStreamFrame(streamId, H2Code.PROTOCOL_ERROR));
      this.#countReset();
      return;
    }
    const stream = this.#newStream(streamId, false);
    if (endStream) this.#endReceived(stream);
    this.onRequest(headers, stream);
  }

  /** Server: a new, well-formed request. */
  protected onRequest(_headers: H2Headers, stream: H2Stream): void {
    this.#resetStream(stream, streamError(H2Code.REFUSED_STREAM, "this side takes no requests"));
  }

  #onResponseHeaders(stream: H2Stream, endStream: boolean, fields: HeaderField[]): void {
    const headers = toHeaders(fields, "response");
    if (typeof headers === "string") {
      this.#resetStream(stream, streamError(H2Code.PROTOCOL_ERROR, `malformed response on stream ${stream.id}: ${headers}`));
      return;
    }
    const status = Number(headers[":status"]);
    if (status < 200) {
      // Informational (1xx) responses precede the final one and cannot end the stream (§8.1).
      if (endStream || status === 101) this.#resetStream(stream, streamError(H2Code.PROTOCOL_ERROR, `informational response ${status} ending stream ${stream.id}`));
      return;
    }
    stream.responded = true;
    const onResponse = stream.onResponse;
    stream.onResponse = undefined;
    stream.onFailure = undefined;
    if (endStream) this.#endReceived(stream);
    onResponse?.(status, headers);
  }

  #onRstStream(streamId: number, payload: Buffer): void {
    if (payload.length !== 4) throw connectionError(H2Code.FRAME_SIZE_ERROR, "RST_STREAM not 4 octets");
    if (streamId === 0) throw connectionError(H2Code.PROTOCOL_ERROR, "RST_STREAM on stream 0");
    if (this.#isIdle(streamId)) throw connectionError(H2Code.PROTOCOL_ERROR, `RST_STREAM on idle stream ${streamId}`);
    const stream = this.streams.get(streamId);
    if (!stream) return;
    const code = payload.readUInt32BE(0);
    // A server counts requests reset before it answered them: each may have cost an upstream dial.
    if (this.#isServer && !stream.responded && this.o.now() - stream.openedAt < this.o.earlyResetMs) this.#countReset();
    stream.resetByPeer = true;
    stream.rstCode = code;
    this.#removeStream(stream);
    this.#failResponse(stream, () => new H2Error(code, "stream", `stream ${streamId} reset by the peer`));
    if (code === H2Code.NO_ERROR && stream.endReceived) {
      // "Stop sending, I have my answer" (§8.1): the readable side already ended; drop the rest.
      this.#failQueued(stream, () => new H2Error(code, "stream", "stream closed by the peer"));
      stream.destroy();
      return;
    }
    stream.destroy(new H2Error(code, "stream", `stream ${streamId} reset by the peer`));
  }

  #onSettings(flags: number, streamId: number, payload: Buffer): void {
    if (streamId !== 0) throw connectionError(H2Code.PROTOCOL_ERROR, "SETTINGS on a stream");
    if (flags & Flag.ACK) {
      if (payload.length !== 0) throw connectionError(H2Code.FRAME_SIZE_ERROR, "SETTINGS ACK with a payload");
      return;
    }
    if (payload.length % 6 !== 0) throw connectionError(H2Code.FRAME_SIZE_ERROR, "SETTINGS not a multiple of 6 octets");
    this.#countControlFrame();
    this.#gotPeerSettings = true;
    for (const [id, value] of parseSettings(payload)) {
      switch (id) {
        case SettingId.HEADER_TABLE_SIZE:
          if (value !== this.#peerHeaderTableSize) {
            this.#peerHeaderTableSize = value;
            this.#encoder.peerTableSizeChanged();
          }
          break;
        case SettingId.ENABLE_PUSH:
          if (value > 1) throw connectionError(H2Code.PROTOCOL_ERROR, `ENABLE_PUSH ${value}`);
          break;
        case SettingId.MAX_CONCURRENT_STREAMS:
          this.peerMaxConcurrentStreams = value;
          break;
        case SettingId.INITIAL_WINDOW_SIZE: {
          if (value > MAX_WINDOW) throw connectionError(H2Code.FLOW_CONTROL_ERROR, `INITIAL_WINDOW_SIZE ${value}`);
          const delta = value - this.#peerInitialWindow;
          this.#peerInitialWindow = value;
          for (const s of this.streams.values()) {
            s.sendWindow += delta;
            if (s.sendWindow > MAX_WINDOW) throw connectionError(H2Code.FLOW_CONTROL_ERROR, `INITIAL_WINDOW_SIZE change overflows stream ${s.id}`);
          }
          break;
        }
        case SettingId.MAX_FRAME_SIZE:
          if (value < MIN_MAX_FRAME_SIZE || value > MAX_MAX_FRAME_SIZE) throw connectionError(H2Code.PROTOCOL_ERROR, `MAX_FRAME_SIZE ${value}`);
          this.#peerMaxFrameSize = value;
          break;
        default:
          break; // MAX_HEADER_LIST_SIZE is advisory; unknown settings are ignored (§6.5.2)
      }
    }
    this.#write(encodeFrame0(FrameType.SETTINGS, Flag.ACK));
    this.#resumeBlocked();
  }

  #onPing(flags: number, streamId: number, payload: Buffer): void {
    if (payload.length !== 8) throw connectionError(H2Code.FRAME_SIZE_ERROR, "PING not 8 octets");
    if (streamId !== 0) throw connectionError(H2Code.PROTOCOL_ERROR, "PING on a stream");
    if (flags & Flag.ACK) {
      const key = payload.toString("hex");
      const done = this.#pings.get(key);
      this.#pings.delete(key);
      done?.();
      return;
    }
    this.#countControlFrame();
    this.#write(pingFrame(payload, true));
  }

  #onGoaway(streamId: number, payload: Buffer): void {
    if (streamId !== 0) throw connectionError(H2Code.PROTOCOL_ERROR, "GOAWAY on a stream");
    if (payload.length < 8) throw connectionError(H2Code.FRAME_SIZE_ERROR, "GOAWAY shorter than 8 octets");
    const lastStreamId = payload.readUInt32BE(0) & 0x7fffffff;
    const code = payload.readUInt32BE(4);
    this.goawayReceived = true;
    // Our streams above lastStreamId were never processed: refused, safe to retry (§6.8).
    for (const s of [...this.streams.values()]) {
      if (s.id > lastStreamId && s.id % 2 === this.nextStreamId % 2) {
        const err = new H2Error(H2Code.REFUSED_STREAM, "stream", `stream ${s.id} refused by GOAWAY (${h2CodeName(code)})`);
        s.rstCode = H2Code.REFUSED_STREAM;
        s.resetByPeer = true;
        this.#removeStream(s);
        this.#failResponse(s, () => err);
        s.destroy(err);
      }
    }
    if (code !== H2Code.NO_ERROR) this.#error ??= new H2Error(code, "connection", `peer sent GOAWAY: ${payload.subarray(8).toString("utf8").slice(0, 200)}`);
    this.emit("goaway", code, lastStreamId);
    this.#maybeFinish();
  }

  #onWindowUpdate(streamId: number, payload: Buffer): void {
    if (payload.length !== 4) throw connectionError(H2Code.FRAME_SIZE_ERROR, "WINDOW_UPDATE not 4 octets");
    const increment = payload.readUInt32BE(0) & 0x7fffffff;
    if (streamId === 0) {
      if (increment === 0) throw connectionError(H2Code.PROTOCOL_ERROR, "WINDOW_UPDATE of 0 on the connection");
      this.#sendWindow += increment;
      if (this.#sendWindow > MAX_WINDOW) throw connectionError(H2Code.FLOW_CONTROL_ERROR, "connection window above 2^31 - 1");
      this.#resumeBlocked();
      return;
    }
    const stream = this.streams.get(streamId);
    if (!stream) {
      if (this.#isIdle(streamId)) throw connectionError(H2Code.PROTOCOL_ERROR, `WINDOW_UPDATE on idle stream ${streamId}`);
      return;
    }
    if (increment === 0) {
      this.#resetStream(stream, streamError(H2Code.PROTOCOL_ERROR, `WINDOW_UPDATE of 0 on stream ${streamId}`));
      return;
    }
    stream.sendWindow += increment;
    if (stream.sendWindow > MAX_WINDOW) {
      this.#resetStream(stream, streamError(H2Code.FLOW_CONTROL_ERROR, `window of stream ${streamId} above 2^31 - 1`));
      return;
    }
    if (this.#blocked.has(stream)) this.#flushStream(stream, Infinity);
  }

  #isIdle(streamId: number): boolean {
    const local = streamId % 2 === this.nextStreamId % 2;
    return local ? streamId >= this.nextStreamId : streamId > this.lastPeerStreamId;
  }

  #countControlFrame(): void {
    this.#rollAbuseWindow();
    if (++this.#abuse.controlFrames > this.o.maxControlFrames) throw connectionError(H2Code.ENHANCE_YOUR_CALM, `more than ${this.o.maxControlFrames} SETTINGS/PING/PRIORITY/empty frames within ${this.o.abuseWindowMs} ms`);
  }

  #countReset(): void {
    this.#rollAbuseWindow();
    if (++this.#abuse.resets > this.o.maxPeerResets) throw connectionError(H2Code.ENHANCE_YOUR_CALM, `more than ${this.o.maxPeerResets} streams reset before an answer or refused within ${this.o.abuseWindowMs} ms (rapid reset)`);
  }

  #rollAbuseWindow(): void {
    const now = this.o.now();
    if (now - this.#abuse.windowStart < this.o.abuseWindowMs) return;
    this.#abuse.windowStart = now;
    this.#abuse.controlFrames = 0;
    this.#abuse.resets = 0;
  }

  // ---------------------------------------------------------------- streams

  protected newLocalStream(): H2Stream {
    const id = this.nextStreamId;
    this.nextStreamId += 2;
    return this.#newStream(id, true);
  }

  #newStream(id: number, local: boolean): H2Stream {
    const stream = new H2Stream(id, this, {
      sendWindow: this.#peerInitialWindow,
      recvWindow: this.o.initialWindowSize,
      // A client may send DATA right after its HEADERS; a server only after responding.
      canSend: local,
      highWaterMark: this.o.streamHighWaterMark,
    });
    // A peer's reset must never crash the process through an unhandled 'error': the stream always
    // has this listener; callers learn of failures from their own listeners, 'close' and rstCode.
    stream.on("error", noop);
    stream.openedAt = this.o.now();
    this.streams.set(id, stream);
    return stream;
  }

  protected sendHeaders(stream: H2Stream, fields: HeaderField[], endStream: boolean): void {
    const block = this.#encoder.encode(fields);
    const max = this.#peerMaxFrameSize;
    let flags = endStream ? Flag.END_STREAM : 0;
    if (block.length <= max) {
      this.#writeFrame(block.length, FrameType.HEADERS, flags | Flag.END_HEADERS, stream.id, block);
    } else {
      // HEADERS then CONTINUATIONs, back to back (nothing may come between them).
      let type: number = FrameType.HEADERS;
      for (let off = 0; off < block.length; off += max) {
        const piece = block.subarray(off, Math.min(off + max, block.length));
        if (off + max >= block.length) flags |= Flag.END_HEADERS;
        this.#writeFrame(piece.length, type, flags, stream.id, piece);
        type = FrameType.CONTINUATION;
        flags = 0;
      }
    }
    if (endStream) this.#endSent(stream);
  }

  /** StreamHost: server response. */
  respond(stream: H2Stream, status: number, endStream: boolean, headers?: Readonly<Record<string, string>>): boolean {
    if (!this.#isServer || stream.responded || stream.retired || stream.destroyed || this.#closed) return false;
    if (!Number.isInteger(status) || status < 200 || status > 999) throw new RangeError(`status ${status}`);
    stream.responded = true;
    const fields: HeaderField[] = [[":status", String(status)]];
    if (headers) for (const [n, v] of Object.entries(headers)) fields.push([n.toLowerCase(), v]);
    this.sendHeaders(stream, fields, endStream);
    if (endStream) {
      // Our side is done; the writable side must not send anything more.
      stream.canSend = false;
      this.#failQueued(stream, () => new H2Error(H2Code.STREAM_CLOSED, "stream", "response already complete"));
      if (!stream.endReceived) {
        // Ask the client to stop sending (§8.1), and drop what it sent.
        this.#write(rstStreamFrame(stream.id, H2Code.NO_ERROR));
        stream.rstCode = H2Code.NO_ERROR;
        this.#removeStream(stream);
        stream.destroy();
      }
      return true;
    }
    stream.canSend = true;
    if (stream.queue.length > 0 || stream.pendingEnd) {
      this.#blocked.add(stream);
      this.#flushStream(stream, Infinity);
    }
    return true;
  }

  /** StreamHost: the application wrote a chunk. */
  write(stream: H2Stream, chunk: Buffer, callback: (err?: Error | null) => void): void {
    if (stream.retired || stream.endSent) {
      callback(new H2Error(H2Code.STREAM_CLOSED, "stream", `stream ${stream.id} is closed`));
      return;
    }
    if (stream.queue.length > 0 || !stream.canSend) {
      stream.queue.push({ buf: chunk, callback });
      if (stream.canSend) this.#blocked.add(stream);
      return;
    }
    const sent = this.#sendFrom(stream, chunk, 0, Infinity);
    if (sent === chunk.length) {
      this.#afterWrite(callback);
      return;
    }
    stream.queue.push({ buf: sent === 0 ? chunk : chunk.subarray(sent), callback });
    this.#blocked.add(stream);
  }

  writev(stream: H2Stream, chunks: Buffer[], callback: (err?: Error | null) => void): void {
    const last = chunks.length - 1;
    for (let i = 0; i < last; i++) this.write(stream, chunks[i] as Buffer, noop);
    this.write(stream, chunks[last] as Buffer, callback);
  }

  /** StreamHost: the application ended its side. */
  end(stream: H2Stream, callback: (err?: Error | null) => void): void {
    if (stream.endSent || stream.retired) {
      callback();
      return;
    }
    if (stream.queue.length > 0 || !stream.canSend) {
      stream.pendingEnd = callback;
      if (stream.canSend) this.#blocked.add(stream);
      return;
    }
    this.#writeFrame(0, FrameType.DATA, Flag.END_STREAM, stream.id);
    this.#endSent(stream);
    this.#afterWrite(callback);
  }

  /** StreamHost: the application read; give back what it consumed. */
  read(stream: H2Stream): void {
    if (stream.retired || stream.endReceived) return;
    const consumed = stream.pushed - stream.readableLength + stream.freeCredit;
    const pending = consumed - stream.credited;
    if (pending < this.o.initialWindowSize / 2 || pending <= 0) return;
    stream.credited = consumed;
    stream.recvWindow += pending;
    this.#write(windowUpdateFrame(stream.id, pending));
  }

  /** StreamHost: the Duplex was destroyed (by the application, or by us). */
  destroyed(stream: H2Stream, err: Error | null): void {
    this.#failQueued(stream, () => err ?? new H2Error(H2Code.CANCEL, "stream", "stream destroyed"));
    if (!stream.retired) {
      const code = err instanceof H2Error && err.scope === "stream" ? err.h2Code : H2Code.CANCEL;
      stream.rstCode = code;
      if (!this.#closed) this.#write(rstStreamFrame(stream.id, code));
      this.#removeStream(stream);
    }
    this.#failResponse(stream, () => (err instanceof H2Error ? err : new H2Error(H2Code.CANCEL, "stream", `stream ${stream.id} cancelled`, { cause: err ?? undefined })));
  }

  /** Send `chunk[offset..]` as DATA frames within the windows and `budget`; returns the new offset. */
  #sendFrom(stream: H2Stream, chunk: Buffer, offset: number, budget: number): number {
    const max = this.#peerMaxFrameSize;
    while (offset < chunk.length) {
      const n = Math.min(chunk.length - offset, stream.sendWindow, this.#sendWindow, max, budget);
      if (n <= 0) break;
      this.#writeFrame(n, FrameType.DATA, 0, stream.id, offset === 0 && n === chunk.length ? chunk : chunk.subarray(offset, offset + n));
      stream.sendWindow -= n;
      this.#sendWindow -= n;
      budget -= n;
      offset += n;
    }
    return offset;
  }

  /** Send what a blocked stream can; returns whether anything went out. */
  #flushStream(stream: H2Stream, budget: number): boolean {
    if (!stream.canSend) return false;
    let progress = false;
    while (stream.queue.length > 0) {
      const head = stream.queue[0] as { buf: Buffer; callback: ((err?: Error | null) => void) | undefined };
      const sent = this.#sendFrom(stream, head.buf, 0, budget);
      if (sent > 0) {
        progress = true;
        budget -= sent;
      }
      if (sent < head.buf.length) {
        head.buf = head.buf.subarray(sent);
        return progress;
      }
      stream.queue.shift();
      if (head.callback) this.#afterWrite(head.callback);
    }
    this.#blocked.delete(stream);
    if (stream.pendingEnd) {
      const cb = stream.pendingEnd;
      stream.pendingEnd = undefined;
      this.#writeFrame(0, FrameType.DATA, Flag.END_STREAM, stream.id);
      this.#endSent(stream);
      this.#afterWrite(cb);
      progress = true;
    }
    return progress;
  }

  /** Blocked streams take turns, one frame each, while the connection window lasts. */
  #resumeBlocked(): void {
    while (this.#blocked.size > 0 && this.#sendWindow > 0) {
      let progress = false;
      for (const s of [...this.#blocked]) {
        if (this.#sendWindow <= 0) break;
        if (this.#flushStream(s, this.#peerMaxFrameSize)) {
          progress = true;
          // Rotate: whoever just sent goes to the back of the line.
          if (this.#blocked.delete(s)) this.#blocked.add(s);
        }
      }
      if (!progress) break;
    }
  }

  #afterWrite(callback: (err?: Error | null) => void): void {
    // 'drain' comes only after a write returned false (writableNeedDrain): never wait otherwise.
    if (this.socket.writableNeedDrain && this.socket.writableLength > this.o.socketBudget && !this.socket.destroyed) this.#drainWaiters.push(callback);
    else callback();
  }

  #onDrain(): void {
    const waiters = this.#drainWaiters;
    if (waiters.length === 0) return;
    this.#drainWaiters = [];
    for (const cb of waiters) cb();
  }

  /** Fail the stream's queued writes and pending end; `reason` is only built when one waits (an Error's stack is costly). */
  #failQueued(stream: H2Stream, reason: () => Error): void {
    this.#blocked.delete(stream);
    const queue = stream.queue;
    const end = stream.pendingEnd;
    if (queue.length === 0 && !end) return;
    stream.queue = [];
    stream.pendingEnd = undefined;
    const err = reason();
    for (const q of queue) q.callback?.(err);
    end?.(err);
  }

  /** Reject a waiting response, if any; `reason` is only built when one waits. */
  #failResponse(stream: H2Stream, reason: () => H2Error): void {
    const fail = stream.onFailure;
    stream.onResponse = undefined;
    stream.onFailure = undefined;
    if (fail) fail(reason());
  }

  #endSent(stream: H2Stream): void {
    stream.endSent = true;
    if (stream.endReceived) this.#removeStream(stream);
  }

  #endReceived(stream: H2Stream): void {
    stream.endReceived = true;
    if (!stream.destroyed) stream.push(null);
    if (stream.endSent) this.#removeStream(stream);
  }

  /** A stream error: RST_STREAM to the peer, the Duplex destroyed with the error. */
  #resetStream(stream: H2Stream, err: H2Error): void {
    if (stream.retired) return;
    stream.rstCode = err.h2Code;
    this.#write(rstStreamFrame(stream.id, err.h2Code));
    this.#removeStream(stream);
    this.#failResponse(stream, () => err);
    stream.destroy(err);
  }

  #removeStream(stream: H2Stream): void {
    if (stream.retired) return;
    stream.retired = true;
    this.streams.delete(stream.id);
    this.#blocked.delete(stream);
    this.#maybeFinish();
  }

  // ---------------------------------------------------------------- writing and lifecycle

  #write(buf: Buffer): void {
    if (this.socket.destroyed || this.socket.writableEnded) return;
    if (!this.#corked) {
      this.#corked = true;
      this.socket.cork();
      process.nextTick(this.#uncork);
    }
    this.socket.write(buf);
  }

  #writeFrame(length: number, type: number, flags: number, streamId: number, payload?: Buffer): void {
    if (payload && length >= DIRECT_WRITE_MIN && !this.socket.destroyed && !this.socket.writableEnded) {
      // A large payload goes to the socket uncorked: on Bun 1.4.4 a corked socket joins its
      // buffered writes into a fresh buffer, and that copy (with the page faults of a new buffer
      // per frame) doubled the sender's CPU per GiB. Whatever is corked goes first, in order.
      if (this.#corked) this.#uncork();
      this.socket.write(encodeFrameHeader(length, type, flags, streamId));
      this.socket.write(payload);
      return;
    }
    this.#write(encodeFrameHeader(length, type, flags, streamId));
    if (payload && length > 0) this.#write(payload);
  }

  #sendGoaway(code: number, debug: string): void {
    if (this.#goawaySent && code === H2Code.NO_ERROR) return;
    this.#goawaySent = true;
    this.#write(goawayFrame(this.lastPeerStreamId, code, debug));
  }

  /** After GOAWAY (either way): end the socket once no stream is left. */
  #maybeFinish(): void {
    if (this.#closed || this.streams.size > 0) return;
    if (!this.#closing && !this.goawayReceived) return;
    this.#sendGoaway(H2Code.NO_ERROR, "");
    this.#teardown(undefined);
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 1000).unref?.();
  }

  #onSocketEnd(): void {
    if (!this.#closed) this.#teardown(this.#error ?? new H2Error(H2Code.NO_ERROR, "connection", "connection closed by the peer"));
    this.socket.end();
  }

  #onSocketClose(): void {
    this.#teardown(this.#error ?? new H2Error(H2Code.NO_ERROR, "connection", "connection closed"));
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    const err = new H2Error(H2Code.NO_ERROR, "connection", "connection closed");
    for (const cb of waiters) cb(err);
    this.emit("close", this.#error);
  }

  /** The connection is over: every stream still open fails with `err`. Runs once. */
  #teardown(err: H2Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#error ??= err?.h2Code === H2Code.NO_ERROR ? undefined : err;
    const failure = err ?? new H2Error(H2Code.NO_ERROR, "connection", "connection closed");
    for (const s of [...this.streams.values()]) {
      s.retired = true;
      s.resetByPeer = true;
      this.#failResponse(s, () => failure);
      this.#failQueued(s, () => failure);
      s.destroy(failure);
    }
    this.streams.clear();
    this.#blocked.clear();
    for (const done of this.#pings.values()) done();
    this.#pings.clear();
  }
}

function noop(): void {}

/**
 * DATA payloads from this size on are written uncorked (see #writeFrame). Measured on Bun 1.4.4
 * over TLS (sender CPU per GiB): 16 KiB payloads are cheaper corked (0.65-0.80 s vs 0.83-0.96 s
 * uncorked), 64 KiB and 256 KiB ones cheaper uncorked (0.67 vs 0.95 s; 0.36 vs 1.1 s).
 */
const DIRECT_WRITE_MIN = 32 * 1024;

function encodeFrame0(type: number, flags: number): Buffer {
  return encodeFrameHeader(0, type, flags, 0, Buffer.allocUnsafe(FRAME_HEADER_SIZE));
}

/** Header syntax (RFC 9113 §8.2-8.3) and the record form; a string says what was malformed. */
export function toHeaders(fields: readonly HeaderField[], kind: "request" | "response"): H2Headers | string {
  const out: H2Headers = {};
  let regular = false;
  for (const [name, value] of fields) {
    if (BAD_VALUE.test(value)) return `bad value for ${name}`;
    if (name.startsWith(":")) {
      if (regular) return `pseudo-header ${name} after a regular field`;
      if (kind === "request" ? !REQUEST_PSEUDO.has(name) : name !== ":status") return `pseudo-header ${name} not allowed in a ${kind}`;
      if (out[name] !== undefined) return `${name} twice`;
      out[name] = value;
      continue;
    }
    regular = true;
    if (!TOKEN.test(name)) return `field name ${JSON.stringify(name.slice(0, 40))}`;
    if (CONNECTION_SPECIFIC.has(name)) return `connection-specific field ${name}`;
    if (name === "te" && value !== "trailers") return "te other than trailers";
    const prev = out[name];
    if (prev === undefined) out[name] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else out[name] = [prev, value];
  }
  if (kind === "request" && out[":method"] === undefined) return "no :method";
  if (kind === "response" && !/^[0-9]{3}$/.test(String(out[":status"] ?? ""))) return "no valid :status";
  return out;
}

/**
 * The client role: `request()` opens a stream with HEADERS and resolves with the response
 * status, headers and the stream once the response HEADERS arrive.
 */
export class H2ClientConnection extends H2Connection {
  constructor(socket: Duplex, options: Partial<H2Options> = {}) {
    super(socket, false, options);
  }

  /** Open a stream. Rejects (H2Error) if the connection cannot take it or the stream fails first. */
  request(headers: Readonly<Record<string, string>>, options: RequestOptions = {}): Promise<H2Response> {
    if (this.draining) return Promise.reject(new H2Error(H2Code.REFUSED_STREAM, "stream", "connection is closing (GOAWAY)"));
    if (this.streams.size >= this.peerMaxConcurrentStreams) return Promise.reject(new H2Error(H2Code.REFUSED_STREAM, "stream", `peer allows ${this.peerMaxConcurrentStreams} concurrent streams`));
    if (this.nextStreamId > MAX_WINDOW) return Promise.reject(new H2Error(H2Code.REFUSED_STREAM, "stream", "stream ids exhausted"));
    if (options.signal?.aborted) return Promise.reject(new H2Error(H2Code.CANCEL, "stream", "request aborted"));
    const fields: HeaderField[] = [];
    // Pseudo-headers first (§8.3).
    for (const [n, v] of Object.entries(headers)) if (n.startsWith(":")) fields.push([n, v]);
    for (const [n, v] of Object.entries(headers)) if (!n.startsWith(":")) fields.push([n.toLowerCase(), v]);
    const stream = this.newLocalStream();
    return new Promise<H2Response>((resolve, reject) => {
      const signal = options.signal;
      const onAbort = () => stream.destroy(new H2Error(H2Code.CANCEL, "stream", "request aborted"));
      stream.onResponse = (status, h) => {
        signal?.removeEventListener("abort", onAbort);
        resolve({ status, headers: h, stream });
      };
      stream.onFailure = (err) => {
        signal?.removeEventListener("abort", onAbort);
        reject(err);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.sendHeaders(stream, fields, options.endStream ?? false);
    });
  }
}

export interface H2ServerOptions extends Partial<H2Options> {
  readonly onStream: OnStream;
}

/** The server role: each well-formed request is handed to `onStream` with a `respond` function. */
export class H2ServerConnection extends H2Connection {
  readonly #onStream: OnStream;

  constructor(socket: Duplex, options: H2ServerOptions) {
    super(socket, true, options);
    this.#onStream = options.onStream;
  }

  protected override onRequest(headers: H2Headers, stream: H2Stream): void {
    this.#onStream(headers, stream, (status, endStream, extra) => stream.respond(status, endStream ?? false, extra));
  }
}
