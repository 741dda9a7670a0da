/**
 * The waypoint's own answers, worded as Envoy words them so operators' runbooks and greps still
 * work: which status, which body, which response flag (Envoy's short codes, also in the access log
 * and the `response_flags` metric label).
 */
export interface LocalReply {
  readonly status: number;
  readonly body: string;
  readonly flag: string;
}

export const LOCAL_REPLIES = {
  noHealthyUpstream: { status: 503, body: "no healthy upstream", flag: "UH" },
  connectFailure: { status: 503, body: "upstream connect error or disconnect/reset before headers. reset reason: connection failure", flag: "UF" },
  upstreamReset: { status: 503, body: "upstream connect error or disconnect/reset before headers. reset reason: connection termination", flag: "UC" },
  timeout: { status: 504, body: "upstream request timeout", flag: "UT" },
  notFronted: { status: 404, body: "route_not_found", flag: "NR" },
} as const satisfies Record<string, LocalReply>;
