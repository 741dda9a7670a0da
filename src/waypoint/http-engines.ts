/**
 * Which HTTP engine serves a tunnel, by the port's protocol (Istio's protocol selection as the
 * control plane translated it): `http` → HTTP/1.1, `http2` and `grpc` → HTTP/2 (prior
 * knowledge), `auto` → decided by the tunnel's first bytes (the HTTP/2 preface or not, bounded
 * in time). The decision is pure (`engineFor`); `HttpEngines.serve` carries it out.
 */
import type { Duplex } from "node:stream";
import { MeshError } from "../errors/mesh-error.ts";
import { formatEndpoint } from "../net/endpoint.ts";
import type { ListenerProtocol } from "../state/view.ts";
import type { Logger } from "../telemetry/log.ts";
import type { HttpProxy } from "./http-proxy.ts";
import type { Http2Proxy } from "./http2-proxy.ts";
import { sniffHttp } from "./protocol-sniff.ts";
import type { TunnelFacts } from "./http-proxy.ts";

export type HttpEngine = "http1" | "http2" | "sniff";

export function engineFor(protocol: Exclude<ListenerProtocol, "tcp">): HttpEngine {
  switch (protocol) {
    case "http":
      return "http1";
    case "http2":
    case "grpc":
      return "http2";
    case "auto":
      return "sniff";
  }
}

export interface HttpEnginesOptions {
  readonly http1: HttpProxy;
  readonly http2: Http2Proxy;
  readonly log: Logger;
  /** How long an `auto` tunnel may take to show its protocol. */
  readonly sniffTimeoutMs?: number;
}

/** Istio's protocol detection timeout for server-first protocols is 5 s; a client that sends nothing in as long is closed. */
export const DEFAULT_SNIFF_TIMEOUT_MS = 5_000;

export class HttpEngines {
  readonly #o: HttpEnginesOptions;

  constructor(options: HttpEnginesOptions) {
    this.#o = options;
  }

  serve(stream: Duplex, facts: TunnelFacts, protocol: Exclude<ListenerProtocol, "tcp">): void {
    const engine = engineFor(protocol);
    if (engine === "http1") return this.#o.http1.serve(stream, facts);
    if (engine === "http2") return this.#o.http2.serve(stream, facts);
    void sniffHttp(stream, this.#o.sniffTimeoutMs ?? DEFAULT_SNIFF_TIMEOUT_MS).then((found) => {
      if (found instanceof MeshError) {
        this.#o.log.warn("protocol detection failed, tunnel closed", { "src.identity": facts.peerIdentity, src: formatEndpoint(facts.client), error: found.message });
        stream.destroy();
        return;
      }
      (found === "http2" ? this.#o.http2 : this.#o.http1).serve(stream, facts);
    });
  }

  close(): void {
    this.#o.http1.close();
    this.#o.http2.close();
  }
}
