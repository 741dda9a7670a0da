/**
 * HTTPFault (mesh.dev/v1): fault injection for HTTPRoute and GRPCRoute rules, Istio's
 * VirtualService `fault` as a Gateway API extension. This comment is the kind's reference.
 *
 * ```yaml
 * apiVersion: mesh.dev/v1
 * kind: HTTPFault
 * metadata: {name: flaky, namespace: bookinfo}
 * spec:
 *   delay: {fixedDelay: 2s, percentage: 50}
 *   abort: {httpStatus: 503, percentage: 10}
 * ```
 *
 * A route rule (or one of its backendRefs) applies it with an ExtensionRef filter in the route's
 * namespace: `{type: ExtensionRef, extensionRef: {group: mesh.dev, kind: HTTPFault, name: flaky}}`.
 *
 * - `delay`: `fixedDelay` (required, a Gateway API duration such as `2s`, `500ms`) is waited before
 *   the request goes on; `percentage` (0–100, may be fractional, default 100) of requests are delayed.
 * - `abort`: exactly one of `httpStatus` (200–599) and `grpcStatus` (1–16, the gRPC status code
 *   sent in trailers to gRPC requests) answers the request locally without calling the backend;
 *   `percentage` (0–100, default 100) of requests are aborted.
 * - At least one of delay and abort. The delay is drawn first, then the abort.
 *
 * The limits are exactly the router plugin's (plugins/router/config.ts), so a fault stored here is
 * never refused at the waypoint; a test checks the two agree.
 */
import { z } from "zod";
import { defineKind } from "../kind.ts";
import type { FieldIssue } from "../issues.ts";
import { gatewayDuration } from "./http-route.ts";

const percentage = z.number().min(0).max(100);

export const httpFaultSpec = z.strictObject({
  delay: z.strictObject({ fixedDelay: gatewayDuration, percentage: percentage.optional() }).optional(),
  abort: z
    .strictObject({
      httpStatus: z.number().int().min(200).max(599).optional(),
      grpcStatus: z.number().int().min(1).max(16).optional(),
      percentage: percentage.optional(),
    })
    .optional(),
});
export type HTTPFaultSpec = z.infer<typeof httpFaultSpec>;

export const httpFaultKind = defineKind<HTTPFaultSpec>({
  kind: "HTTPFault",
  plural: "httpfaults",
  apiVersions: ["mesh.dev/v1"],
  namespaced: true,
  spec: httpFaultSpec,
  check: (spec) => {
    const issues: FieldIssue[] = [];
    if (!spec.delay && !spec.abort) issues.push({ path: "spec", message: "needs delay, abort or both" });
    if (spec.abort && (spec.abort.httpStatus === undefined) === (spec.abort.grpcStatus === undefined)) {
      issues.push({ path: "spec.abort", message: "needs exactly one of httpStatus, grpcStatus" });
    }
    return issues;
  },
});
