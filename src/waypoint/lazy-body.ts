/**
 * Message bodies between node:http and the plugin API's web streams without paying for them when
 * no filter looks. `lazyBody(readable)` is a ReadableStream that pulls from the node stream only
 * when read (highWaterMark 0: creating it reads nothing); `untouchedSource(stream)` gives the node
 * stream back while nothing has been read, so the proxy pipes it natively — no per-chunk JS, no
 * copies — in the common case where no filter buffers or rewrites the body.
 */
import { Readable } from "node:stream";
import type { ReadableStream as NodeWebStream } from "node:stream/web";

const sources = new WeakMap<ReadableStream<Uint8Array>, Readable>();

export function lazyBody(readable: Readable): ReadableStream<Uint8Array> {
  let settled = false;
  const stream = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        const settle = (how: () => void) => {
          if (settled) return;
          settled = true;
          how();
        };
        readable.once("end", () => settle(() => controller.close()));
        readable.once("error", (err) => settle(() => controller.error(err)));
      },
      pull(controller) {
        sources.delete(stream);
        return new Promise<void>((resolve) => {
          const read = () => {
            const chunk = readable.read() as Buffer | null;
            if (chunk !== null) {
              controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
              resolve();
            } else if (readable.readableEnded || readable.destroyed) resolve();
            else readable.once("readable", read);
          };
          read();
        });
      },
      cancel(reason) {
        settled = true;
        sources.delete(stream);
        readable.destroy(reason instanceof Error ? reason : undefined);
      },
    },
    { highWaterMark: 0 },
  );
  sources.set(stream, readable);
  return stream;
}

/** The node stream behind a lazy body nobody has read yet; undefined otherwise. */
export function untouchedSource(stream: ReadableStream<Uint8Array> | null): Readable | undefined {
  return stream && !stream.locked ? sources.get(stream) : undefined;
}

/** A body as a node stream to pipe: the untouched source (native), else the web stream read. */
export function nodeBody(body: ReadableStream<Uint8Array>): Readable {
  return untouchedSource(body) ?? Readable.fromWeb(body as unknown as NodeWebStream<Uint8Array>);
}
