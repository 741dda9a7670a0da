/**
 * The demo's client: an HTTP/1.1 request (GET unless told) through a ztunnel's SOCKS5 port, from a workload's own
 * address — what `curl --interface <ip> --socks5-hostname <ztunnel> <url>` does, built in so
 * `mesh demo --check` needs nothing installed. Bounded by a deadline.
 */
import net from "node:net";
import { encodeGreeting, encodeRequest } from "../../ztunnel/capture/socks5-protocol.ts";

export type GetOutcome =
  | { readonly kind: "response"; readonly status: number; readonly body: string }
  | { readonly kind: "refused"; readonly socksReply: number }
  | { readonly kind: "failed"; readonly error: string };

export function socksGet(options: { from: string; socks: { host: string; port: number }; host: string; port: number; path?: string; headers?: Readonly<Record<string, string>>; method?: string; body?: string; timeoutMs?: number }): Promise<GetOutcome> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: options.socks.host, port: options.socks.port, localAddress: options.from });
    let buffer = Buffer.alloc(0);
    let phase: "method" | "reply" | "http" = "method";
    const finish = (outcome: GetOutcome) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => finish({ kind: "failed", error: `no answer within ${options.timeoutMs ?? 5000} ms` }), options.timeoutMs ?? 5000);
    socket.once("connect", () => socket.write(encodeGreeting()));
    socket.on("error", (err) => finish({ kind: "failed", error: err.message }));
    socket.on("data", (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (phase === "method" && buffer.length >= 2) {
        if (buffer[1] !== 0) return finish({ kind: "failed", error: "SOCKS5 server refused the no-auth method" });
        buffer = buffer.subarray(2);
        phase = "reply";
        socket.write(encodeRequest({ kind: "name", name: options.host, port: options.port }));
      }
      if (phase === "reply" && buffer.length >= 4) {
        const rep = buffer[1] as number;
        if (rep !== 0) return finish({ kind: "refused", socksReply: rep });
        const length = buffer[3] === 1 ? 10 : buffer[3] === 4 ? 22 : -1;
        if (length < 0) return finish({ kind: "failed", error: "unexpected SOCKS5 reply address type" });
        if (buffer.length < length) return;
        buffer = buffer.subarray(length);
        phase = "http";
        const extra = Object.entries(options.headers ?? {})
          .map(([k, v]) => `${k}: ${v}\r\n`)
          .join("");
        const body = options.body === undefined ? "" : `content-length: ${Buffer.byteLength(options.body)}\r\n`;
        socket.write(`${options.method ?? "GET"} ${options.path ?? "/"} HTTP/1.1\r\nhost: ${options.host}:${options.port}\r\nuser-agent: mesh-demo\r\n${extra}${body}connection: close\r\n\r\n${options.body ?? ""}`);
      }
    });
    socket.on("end", () => {
      if (phase !== "http") return finish({ kind: "failed", error: "connection closed during the SOCKS5 handshake" });
      const text = buffer.toString("utf8");
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
      const body = text.slice(text.indexOf("\r\n\r\n") + 4);
      finish(status ? { kind: "response", status, body } : { kind: "failed", error: "no HTTP response" });
    });
  });
}
