/**
 * Bodies are web streams (`ReadableStream<Uint8Array> | null`) so bytes can flow through a chain
 * untouched. A filter that needs the whole body buffers it with a bound: `bufferBody` reads at
 * most `maxBytes`, refuses more with a MeshError (resource_exhausted, 413 at the waypoint), and
 * puts the bytes back as a fresh stream so later filters and the upstream still see them.
 */
import { MeshError } from "../errors/mesh-error.ts";

export interface HasBody {
  body: ReadableStream<Uint8Array> | null;
}

/** Read the whole body (at most `maxBytes`) and replace it with a stream of the same bytes. */
export async function bufferBody(message: HasBody, maxBytes: number): Promise<Uint8Array> {
  const stream = message.body;
  if (stream === null) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel("body too large");
        throw new MeshError("resource_exhausted", `body is larger than ${maxBytes} bytes`, { detail: { limit: maxBytes } });
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  const bytes = chunks.length === 1 ? (chunks[0] as Uint8Array) : concat(chunks, size);
  message.body = bodyOf(bytes);
  return bytes;
}

export async function bufferText(message: HasBody, maxBytes: number): Promise<string> {
  return new TextDecoder().decode(await bufferBody(message, maxBytes));
}

/** A one-chunk stream of `data` (a string is UTF-8 encoded); null for no body. */
export function bodyOf(data: string | Uint8Array | null | undefined): ReadableStream<Uint8Array> | null {
  if (data === null || data === undefined) return null;
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      if (bytes.byteLength > 0) controller.enqueue(bytes);
      controller.close();
    },
  });
}

function concat(chunks: readonly Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}
