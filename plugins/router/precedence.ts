/**
 * Gateway API precedence among the matches attached to one listener, as a comparator (sorted once
 * per config; the first candidate that matches a request wins).
 *
 * HTTPRoute: an Exact path, then a PathPrefix by length (longest first), then a RegularExpression
 * path; then a method match; then more header matches; then more query matches.
 * GRPCRoute: the longer service name, then the longer method name, then more header matches.
 * Ties, both kinds: the older route (its position in the config, which the control plane sorts
 * by creation time, then namespace/name), then rule order, then match order within the rule.
 * Hostnames take no part: routes here attach to Services (GAMMA), which ignore them.
 */
import type { Candidate } from "./config.ts";

const PATH_RANK = { Exact: 0, PathPrefix: 1, RegularExpression: 2 } as const;

export function byPrecedence(a: Candidate, b: Candidate): number {
  return specificity(a, b) || a.route.age - b.route.age || a.rule.index - b.rule.index || a.matchIndex - b.matchIndex;
}

function specificity(a: Candidate, b: Candidate): number {
  const x = a.match;
  const y = b.match;
  if (x.grpc !== null || y.grpc !== null || a.route.kind === "GRPCRoute") {
    return (y.grpc?.serviceLength ?? 0) - (x.grpc?.serviceLength ?? 0) || (y.grpc?.methodLength ?? 0) - (x.grpc?.methodLength ?? 0) || y.headers.length - x.headers.length;
  }
  return (
    PATH_RANK[x.path.type] - PATH_RANK[y.path.type] ||
    (x.path.type === "RegularExpression" ? 0 : y.path.value.length - x.path.value.length) ||
    Number(y.method !== null) - Number(x.method !== null) ||
    y.headers.length - x.headers.length ||
    y.query.length - x.query.length
  );
}
