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
} as const satisfies Record<string, LocalReply>;
