/** For tunnel tests: send `payload`, half-close, and collect everything that comes back until the end. */
import type { Duplex } from "node:stream";

export function roundTrip(stream: Duplex, payload: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    stream.on("data", (d: Buffer) => parts.push(d));
    stream.on("end", () => resolve(Buffer.concat(parts)));
    stream.on("error", reject);
    stream.end(payload);
  });
}
