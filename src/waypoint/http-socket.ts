/**
 * A tunnel stream dressed as the socket node:http expects. node:http's Agent and server call
 * socket methods a generic Duplex lacks (setKeepAlive, setNoDelay, setTimeout, ref, unref);
 * Deno's node:http throws without them. On a tunnel they have nothing to do: keep-alive and Nagle
 * belong to the TCP connection under the tunnel, and timeouts are the proxy's own.
 */
import type { Duplex } from "node:stream";

type SocketLike = Duplex & Partial<Record<"setKeepAlive" | "setNoDelay" | "setTimeout" | "ref" | "unref", (...args: unknown[]) => unknown>>;

export function asHttpSocket<T extends Duplex>(stream: T): T {
  const s = stream as T & SocketLike;
  const self = () => s;
  s.setKeepAlive ??= self;
  s.setNoDelay ??= self;
  s.setTimeout ??= self;
  s.ref ??= self;
  s.unref ??= self;
  return stream;
}
