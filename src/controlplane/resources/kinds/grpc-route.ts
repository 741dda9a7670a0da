/**
 * GRPCRoute (gateway.networking.k8s.io/v1) as of Gateway API v1.6: matches on the gRPC service
 * and method and on headers; header changes, mirroring and extension filters; weighted backends.
 * The references, filters and their checks are HTTPRoute's (./http-route.ts), narrowed to the four
 * filter types GRPCRoute allows. A method match must name a service or a method (upstream applies
 * this to both match types); Exact names are checked against the protobuf identifier grammar and
 * RegularExpression ones must compile.
 */
import { z } from "zod";
import { defineKind } from "../kind.ts";
import type { FieldIssue } from "../issues.ts";
import {
  backendObjectRef,
  backendRefIssues,
  filterIssues,
  headerFilter,
  headerMatch,
  headerMatchIssues,
  hostname,
  localObjectReference,
  parentRef,
  parentRefIssues,
  regexProblem,
  requestMirror,
  ruleCommonIssues,
  sectionName,
  sessionPersistence,
} from "./http-route.ts";

export const grpcRouteFilter = z.strictObject({
  type: z.enum(["RequestHeaderModifier", "ResponseHeaderModifier", "RequestMirror", "ExtensionRef"]),
  requestHeaderModifier: headerFilter.optional(),
  responseHeaderModifier: headerFilter.optional(),
  requestMirror: requestMirror.optional(),
  extensionRef: localObjectReference.optional(),
});

const grpcMethodMatch = z.strictObject({
  type: z.enum(["Exact", "RegularExpression"]).optional(),
  service: z.string().max(1024).optional(),
  method: z.string().max(1024).optional(),
});

const grpcRouteRule = z.strictObject({
  name: sectionName.optional(),
  matches: z.array(z.strictObject({ method: grpcMethodMatch.optional(), headers: z.array(headerMatch).max(16).optional() })).max(64).optional(),
  filters: z.array(grpcRouteFilter).max(16).optional(),
  backendRefs: z
    .array(
      z.strictObject({
        ...backendObjectRef,
        weight: z.number().int().min(0).max(1_000_000).optional(),
        filters: z.array(grpcRouteFilter).max(16).optional(),
      }),
    )
    .max(16)
    .optional(),
  sessionPersistence: sessionPersistence.optional(),
});
export type GRPCRouteRule = z.infer<typeof grpcRouteRule>;

export const grpcRouteSpec = z.strictObject({
  parentRefs: z.array(parentRef).max(32).optional(),
  hostnames: z.array(hostname).max(16).optional(),
  rules: z.array(grpcRouteRule).max(16).optional(),
});
export type GRPCRouteSpec = z.infer<typeof grpcRouteSpec>;

const GRPC_SERVICE = /^\.?[a-z_][a-z_0-9]*(\.[a-z_][a-z_0-9]*)*$/i;
const GRPC_METHOD = /^[A-Za-z_][A-Za-z_0-9]*$/;

function methodMatchIssues(m: z.infer<typeof grpcMethodMatch>, at: string): FieldIssue[] {
  if (m.service === undefined && m.method === undefined) return [{ path: at, message: "must set service, method or both" }];
  const issues: FieldIssue[] = [];
  for (const field of ["service", "method"] as const) {
    const value = m[field];
    if (value === undefined) continue;
    let problem: string | null;
    if (m.type === "RegularExpression") problem = regexProblem(value);
    else if (field === "service") problem = GRPC_SERVICE.test(value) ? null : `"${value}" is not a gRPC service name (dot-separated identifiers, e.g. helloworld.Greeter)`;
    else problem = GRPC_METHOD.test(value) ? null : `"${value}" is not a gRPC method name (an identifier, e.g. SayHello)`;
    if (problem) issues.push({ path: `${at}.${field}`, message: problem });
  }
  return issues;
}

function grpcRuleIssues(rule: GRPCRouteRule, at: string): FieldIssue[] {
  const issues: FieldIssue[] = [];
  (rule.matches ?? []).forEach((m, j) => {
    if (m.method) issues.push(...methodMatchIssues(m.method, `${at}.matches[${j}].method`));
    issues.push(...headerMatchIssues(m.headers, `${at}.matches[${j}].headers`));
  });
  issues.push(...filterIssues(rule.filters, `${at}.filters`));
  (rule.backendRefs ?? []).forEach((b, j) => {
    issues.push(...backendRefIssues(b, `${at}.backendRefs[${j}]`));
    issues.push(...filterIssues(b.filters, `${at}.backendRefs[${j}].filters`));
  });
  return issues;
}

export const grpcRouteKind = defineKind<GRPCRouteSpec>({
  kind: "GRPCRoute",
  plural: "grpcroutes",
  apiVersions: ["gateway.networking.k8s.io/v1"],
  namespaced: true,
  spec: grpcRouteSpec,
  check: (spec) => {
    const issues: FieldIssue[] = [...parentRefIssues(spec.parentRefs), ...ruleCommonIssues(spec.rules)];
    (spec.rules ?? []).forEach((rule, i) => issues.push(...grpcRuleIssues(rule, `spec.rules[${i}]`)));
    return issues;
  },
});
