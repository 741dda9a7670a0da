/**
 * One HTTP/2 stream as a node:stream Duplex: what the application writes becomes DATA frames,
 * `end()` becomes END_STREAM (a half-close), `destroy()` becomes RST_STREAM(CANCEL); DATA from
 * the peer is pushed to the readable side without copying.
 *
 * The stream holds no protocol logic: it forwards every operation to its connection (the
 * `StreamHost`), which owns windows, queues and the socket. Fields below are the connection's
 * bookkeeping, kept here so the hot path does one map lookup per frame and none per byte.
 *
 * Invariants (kept by the connection):
 * - `recvWindow` is what the peer may still send; it only grows by WINDOW_UPDATEs we send, and we
 *   send them for bytes the application has *read* (`pushed - readableLength`), so a reader that
 *   stops reading stops the sender after one window instead of buffering without bound;
 * - `sendWindow` is what we may still send (may go negative after a SETTINGS change, §6.9.2);
 * - `queue` holds written chunks waiting for window; each keeps its write callback, so the
 *   Duplex's own highWaterMark backpressures the writer while the stream is blocked;
 * - the stream leaves the connection's table once END_STREAM went both ways or a reset went
 *   either way; the Duplex then finishes or is destroyed on its own schedule.
 */
import { Duplex } from "node:stream";
import type { H2Error } from "./errors.ts";

export type H2Headers = Record<string, string | string[]>;

/** What the connection does for its streams. */
export interface StreamHost {
  write(stream: H2Stream, chunk: Buffer, callback: (err?: Error | null) => void): void;
  writev(stream: H2Stream, chunks: Buffer[], callback: (err?: Error | null) => void): void;
  end(stream: H2Stream, callback: (err?: Error | null) => void): void;
  read(stream: H2Stream): void;
  destroyed(stream: H2Stream, err: Error | null): void;
  respond(stream: H2Stream, status: number, endStream: boolean, headers?: Readonly<Record<string, string>>): boolean;
}

export interface QueuedChunk {
  buf: Buffer;
  callback: ((err?: Error | null) => void) | undefined;
}

export class H2Stream extends Duplex {
  readonly id: number;
  readonly #host: StreamHost;

  // --- connection bookkeeping (see the module header) ---
  /** @internal */ sendWindow: number;
  /** @internal */ recvWindow: number;
  /** @internal When the stream opened (the connection's clock). */ openedAt = 0;
  /** @internal Octets pushed to the readable side. */ pushed = 0;
  /** @internal Octets given back by WINDOW_UPDATE, plus padding and discarded data. */ credited = 0;
  /** @internal Padding and dropped octets, credited without waiting for a read. */ freeCredit = 0;
  /** @internal */ queue: QueuedChunk[] = [];
  /** @internal END_STREAM waits behind the queue; its callback. */ pendingEnd: ((err?: Error | null) => void) | undefined;
  /** @internal May DATA be sent yet (server: after the response HEADERS). */ canSend: boolean;
  /** @internal */ endSent = false;
  /** @internal */ endReceived = false;
  /** @internal Left the connection's table (END_STREAM both ways, or a reset). */ retired = false;
  /** @internal Reset by the peer (no RST_STREAM goes back on destroy). */ resetByPeer = false;
  /** @internal Client: the response waiter. */ onResponse: ((status: number, headers: H2Headers) => void) | undefined;
  /** @internal Client: rejects the response waiter. */ onFailure: ((err: H2Error) => void) | undefined;

  /** Response HEADERS were sent (server) or received (client). */
  responded = false;
  /** The RST_STREAM code, when the stream was reset (either side). */
  rstCode: number | undefined;

  constructor(id: number, host: StreamHost, init: { sendWindow: number; recvWindow: number; canSend: boolean; highWaterMark: number }) {
    super({ allowHalfOpen: true, writableHighWaterMark: init.highWaterMark, readableHighWaterMark: init.highWaterMark, decodeStrings: true });
    this.id = id;
    this.#host = host;
    this.sendWindow = init.sendWindow;
    this.recvWindow = init.recvWindow;
    this.canSend = init.canSend;
  }

  /** Server: answer the request (HEADERS with :status); `endStream` also closes our side. */
  respond(status: number, endStream = false, headers?: Readonly<Record<string, string>>): boolean {
    return this.#host.respond(this, status, endStream, headers);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.#host.write(this, chunk, callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (err?: Error | null) => void): void {
    this.#host.writev(
      this,
      chunks.map((c) => c.chunk),
      callback,
    );
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.#host.end(this, callback);
  }

  override _read(): void {
    this.#host.read(this);
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.#host.destroyed(this, err);
    callback(err);
  }
}
