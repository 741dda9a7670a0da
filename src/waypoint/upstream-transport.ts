/**
 * What an HTTP engine lends the shared upstream stage (request-pipeline.ts): how one try is
 * written to a hop and its response head read back, and how a mirror copy is sent. Everything
 * else — which hops, timeouts, retries with backoff, failover, outliers, local replies — is decided
 * once for both engines. HTTP/1.1 writes with node:http Agents (http1-upstream.ts), HTTP/2 and
 * gRPC with the pooled h2c sessions (http2-upstream.ts).
 */
import type { RequestContext } from "../plugin-api/index.ts";
import type { TunnelFacts } from "./http-proxy.ts";
import type { UpstreamHop } from "./upstream-plan.ts";

/** The request as the upstream gets it: the chain's final method, path (with query), authority and headers. */
export interface UpstreamRequest {
  readonly method: string;
  readonly path: string;
  readonly authority: string;
  /** End-to-end and proxy headers, lowercased names (no Host: `authority` is). */
  readonly headers: Readonly<Record<string, string | string[]>>;
}

/** Why a try ended without a response. */
export type TryFailure =
  /** The hop could not be connected: nothing was sent. */
  | "connect"
  /** The connection or stream ended before a response. */
  | "reset"
  /** No response head within the try's time. */
  | "timeout"
  /** The hop never processed the request (HTTP/2 GOAWAY above it, REFUSED_STREAM): safe to send again. */
  | "refused";

export type TryOutcome =
  | {
      readonly kind: "response";
      readonly status: number;
      /** End-to-end response headers. */
      readonly headers: ReadonlyArray<readonly [string, string]>;
      readonly body: ReadableStream<Uint8Array> | null;
      /** The request could be sent again (no body, or all of it kept). */
      readonly resendable: boolean;
      /** Drop this response (a retry replaces it). */
      discard(): void;
    }
  | { readonly kind: "failed"; readonly failure: TryFailure; readonly resendable: boolean };

/** Per request, beside the plugin context: what the access log and the upstream stage need. */
export interface Exchange {
  readonly facts: TunnelFacts;
  readonly transport: UpstreamTransport;
  hop: UpstreamHop | undefined;
  /** Envoy's response flag for a local reply ("-": none). */
  flag: string;
  /** Body bytes from the client (counted as they are sent upstream) and to it. */
  requestBytes: number;
  responseBytes: number;
}

export interface UpstreamTransport {
  /** One try on one hop: resolves once the response head is in or the try failed; never rejects. */
  send(ctx: RequestContext, exchange: Exchange, hop: UpstreamHop, request: UpstreamRequest, timeoutMs: number): Promise<TryOutcome>;
  /** A copy of the request to a mirror hop, its response dropped; `fail` hears why it was not sent. */
  mirror(hop: UpstreamHop, request: UpstreamRequest, body: ReadableStream<Uint8Array> | null, timeoutMs: number, fail: (why: string) => void): void;
}
