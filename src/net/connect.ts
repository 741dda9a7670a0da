import net from "node:net";
import { MeshError } from "../errors/mesh-error.ts";
import { formatEndpoint, type Endpoint } from "./endpoint.ts";

/**
 * Connect to an endpoint over plain TCP (Nagle off, half-close allowed); rejects with
 * "unavailable" (HBONE 503) when it cannot be reached, and gives up at once when `signal` aborts
 * (the client went away while we were connecting).
 */
export function connectTcp(target: Endpoint, timeoutMs: number, signal?: AbortSignal): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: target.address, port: target.port, allowHalfOpen: true, noDelay: true });
    const timer = setTimeout(() => socket.destroy(new Error(`connect timed out after ${timeoutMs} ms`)), timeoutMs);
    const onAbort = () => socket.destroy(new Error("the client went away"));
    signal?.addEventListener("abort", onAbort, { once: true });
    socket.once("close", () => signal?.removeEventListener("abort", onAbort));
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.removeAllListeners("error");
      resolve(socket);
    });
    socket.once("error", (err) => {
      clearTimeout(timer);
      reject(new MeshError("unavailable", `upstream ${formatEndpoint(target)}: ${err.message}`, { cause: err }));
    });
  });
}

