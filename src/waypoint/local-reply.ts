/**
 * The waypoint's own answers, worded as Envoy words them so operators' runbooks and greps still
 * work: which status, which body, which response flag (Envoy's short codes, also in the access log
 * and the `response_flags` metric label).
 */
export interface LocalReply {
  readonly status: number;
  readonly body: string;
  readonly flag: string;
  /** Envoy's response code details. */
  readonly details: string;
}

export const LOCAL_REPLIES = {
  noHealthyUpstream: { status: 503, body: "no healthy upstream", flag: "UH", details: "no_healthy_upstream" },
  connectFailure: { status: 503, body: "upstream connect error or disconnect/reset before headers. reset reason: connection failure", flag: "UF", details: "upstream_reset_before_response_started{connection_failure}" },
  upstreamReset: { status: 503, body: "upstream connect error or disconnect/reset before headers. reset reason: connection termination", flag: "UC", details: "upstream_reset_before_response_started{connection_termination}" },
  timeout: { status: 504, body: "upstream request timeout", flag: "UT", details: "upstream_response_timeout" },
  badPath: { status: 400, body: "bad request target", flag: "-", details: "invalid_path" },
} as const satisfies Record<string, LocalReply>;

/** gRPC's status for an HTTP status (grpc/doc/http-grpc-status-mapping.md, as Envoy's `httpToGrpcStatus`). */
export function grpcStatusFor(httpStatus: number): number {
  switch (httpStatus) {
    case 400:
      return 13; // INTERNAL
    case 401:
      return 16; // UNAUTHENTICATED
    case 403:
      return 7; // PERMISSION_DENIED
    case 404:
      return 12; // UNIMPLEMENTED
    case 429:
    case 502:
    case 503:
    case 504:
      return 14; // UNAVAILABLE
    default:
      return 2; // UNKNOWN
  }
}

/** A gRPC request (content-type application/grpc or application/grpc+proto etc.). */
export const isGrpc = (contentType: string | undefined): boolean => contentType !== undefined && /^application\/grpc($|[+;])/i.test(contentType);

/**
 * A local reply to a gRPC client, as Envoy sends it: trailers-only (HTTP 200, the status in
 * `grpc-status`, the body as a percent-encoded `grpc-message`).
 */
export function grpcLocalReply(r: LocalReply): { readonly ":status": 200; readonly "content-type": "application/grpc"; readonly "grpc-status": string; readonly "grpc-message": string } {
  const message = r.body.replace(/[^\x20-\x24\x26-\x7e]/gu, (c) => encodeURIComponent(c));
  return { ":status": 200, "content-type": "application/grpc", "grpc-status": String(grpcStatusFor(r.status)), "grpc-message": message };
}
