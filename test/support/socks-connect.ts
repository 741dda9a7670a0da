/**
 * A client's TCP connection through a ztunnel's SOCKS5 port, from a workload's own address, handed
 * back once the SOCKS5 handshake succeeded — for clients that bring their own protocol
 * (node:http2's `createConnection`), and a local forwarder for clients that only dial an address
 * (@grpc/grpc-js): every connection to it is carried through SOCKS5 to one destination.
 */
import net from "node:net";
import { encodeGreeting, encodeRequest } from "../../src/ztunnel/capture/socks5-protocol.ts";

export interface SocksRoute {
  /** The workload address the connection comes from. */
  readonly from: string;
  readonly socks: { readonly host: string; readonly port: number };
  /** Destination name (resolved by the ztunnel) and port. */
  readonly host: string;
  readonly port: number;
}

export function socksConnect(route: SocksRoute, timeoutMs = 5000): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: route.socks.host, port: route.socks.port, localAddress: route.from });
    let buffer = Buffer.alloc(0);
    let phase: "method" | "reply" = "method";
    const fail = (why: string) => {
      clearTimeout(timer);
      socket.destroy();
      reject(new Error(`SOCKS5 to ${route.host}:${route.port}: ${why}`));
    };
    const timer = setTimeout(() => fail(`no answer within ${timeoutMs} ms`), timeoutMs);
    const onData = (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (phase === "method" && buffer.length >= 2) {
        if (buffer[1] !== 0) return fail("no-auth method refused");
        buffer = buffer.subarray(2);
        phase = "reply";
        socket.write(encodeRequest({ kind: "name", name: route.host, port: route.port }));
      }
      if (phase === "reply" && buffer.length >= 4) {
        if (buffer[1] !== 0) return fail(`reply ${buffer[1]}`);
        const length = buffer[3] === 1 ? 10 : buffer[3] === 4 ? 22 : -1;
        if (length < 0) return fail("unexpected reply address type");
        if (buffer.length < length) return;
        clearTimeout(timer);
        socket.off("data", onData);
        socket.off("error", onError);
        socket.pause();
        if (buffer.length > length) socket.unshift(buffer.subarray(length));
        resolve(socket);
      }
    };
    const onError = (err: Error) => fail(err.message);
    socket.once("connect", () => socket.write(encodeGreeting()));
    socket.on("error", onError);
    socket.on("data", onData);
  });
}

/** A listener on 127.0.0.1 whose connections are carried through SOCKS5 along `route`. */
export async function socksForwarder(route: SocksRoute): Promise<{ readonly address: string; close(): Promise<void> }> {
  const open = new Set<net.Socket>();
  const server = net.createServer((client) => {
    open.add(client);
    client.on("close", () => open.delete(client));
    client.on("error", () => client.destroy());
    client.pause();
    socksConnect(route).then(
      (up) => {
        open.add(up);
        up.on("close", () => (open.delete(up), client.destroy()));
        up.on("error", () => up.destroy());
        client.on("close", () => up.destroy());
        client.pipe(up).pipe(client);
        client.resume();
        up.resume();
      },
      () => client.destroy(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    address: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}
