/**
 * A node Duplex over a Deno.Conn, reading and writing through the connection's own read/write
 * calls (Deno's web-stream adapters close the whole connection when the writable side ends, which
 * breaks half-closed proxying). Half-close is kept: ending the writable side sends FIN with
 * closeWrite() while reading goes on; the connection is closed when the stream is destroyed.
 */
import { Duplex } from "node:stream";
import type { DenoConn } from "./deno-api.ts";

const READ_CHUNK = 64 * 1024;

export class DenoConnStream extends Duplex {
  readonly #conn: DenoConn;
  #closed = false;

  constructor(conn: DenoConn) {
    super({ allowHalfOpen: true });
    this.#conn = conn;
  }

  override _read(): void {
    const buf = new Uint8Array(READ_CHUNK);
    this.#conn.read(buf).then(
      (n) => {
        if (n === null) this.push(null);
        else if (this.push(buf.subarray(0, n))) this._read();
      },
      (err: unknown) => this.#fail(err),
    );
  }

  override _write(chunk: Uint8Array, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.#writeAll(chunk).then(() => callback(), callback);
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.#conn.closeWrite().then(() => callback(), callback);
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.#closeConn();
    callback(err);
  }

  async #writeAll(chunk: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < chunk.length) offset += await this.#conn.write(chunk.subarray(offset));
  }

  #fail(err: unknown): void {
    // A read failing after we closed the connection ourselves is the expected end, not an error.
    if (this.#closed) return;
    this.destroy(err instanceof Error ? err : new Error(String(err)));
  }

  #closeConn(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // already closed by the peer's reset
    }
  }
}
