/**
 * FilterPlugin (mesh.dev/v1): a TypeScript or JavaScript filter that waypoints load and run in
 * their filter chain. This comment is the kind's reference.
 *
 * ```yaml
 * apiVersion: mesh.dev/v1
 * kind: FilterPlugin
 * metadata: {name: tenant-quota, namespace: bookinfo}
 * spec:
 *   targetRefs:
 *   - {kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}
 *   module: /opt/mesh/plugins/tenant-quota.js
 *   sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
 *   config: {limit: 100}
 *   phase: AUTHZ
 *   priority: 10
 *   failurePolicy: FailClosed
 *   timeout: 50ms
 * ```
 *
 * - `targetRefs` (required, 1–16): what the plugin applies to. `kind: Gateway` (group
 *   gateway.networking.k8s.io, may be left out): every request through that waypoint.
 *   `kind: Service` (group "", may be left out): requests to that Service through its waypoint.
 *   Targets are in the FilterPlugin's namespace; a plugin runs code inside a shared waypoint, so
 *   there is no namespace-wide default.
 * - `module` (required): absolute path of the plugin's `.ts` or `.js` file on the waypoint's
 *   host, normalized (no `.`/`..` segments, no `//`). The module imports only `src/plugin-api`
 *   and exports a plugin: `parseConfig` (refuses bad config) and `create` (returns the filter).
 * - `sha256` (required): 64 lower-case hex digits, the SHA-256 of the module file. The waypoint
 *   refuses to load a file whose digest differs, so changing the code means changing this resource.
 * - `config`: any JSON object, given to the plugin's `parseConfig`; a refusal there is reported
 *   as a NACK for this resource only. Default `{}`.
 * - `phase`: where in the chain the filter runs: AUTHN (with JWT authentication), AUTHZ (with
 *   authorization policy), STATS (telemetry), ROUTE (after routing, before the backend call).
 *   Default AUTHZ; the built-in filter of a phase runs before the plugins of that phase.
 * - `priority`: order among plugins of one phase, higher first; ties by namespace/name. Default 0.
 * - `failurePolicy`: what a request sees when the plugin throws, times out or failed to load:
 *   FailClosed (default) fails the request with a 500 without calling the backend; FailOpen skips the plugin.
 *   Either way only that plugin's requests are affected.
 * - `timeout`: a Gateway API duration (`50ms`, `2s`) bounding the plugin's own work on one
 *   request (not the time spent in `next()`); on expiry the failure policy applies. Unset: no
 *   plugin-specific bound (the route's timeouts still apply).
 *
 * Defaults are filled in on write, so a stored FilterPlugin always has config, phase, priority
 * and failurePolicy.
 */
import { z } from "zod";
import { duplicateIssues } from "../common.ts";
import { defineKind } from "../kind.ts";
import type { FieldIssue } from "../issues.ts";
import { gatewayDuration, gatewayDurationMs, objectName } from "./http-route.ts";
import { jsonObject } from "./wasm-plugin.ts";

const GATEWAY_GROUP = "gateway.networking.k8s.io";

export const filterPluginTargetRef = z.strictObject({
  group: z.string().optional(),
  kind: z.enum(["Gateway", "Service"]),
  name: objectName,
});

export const filterPluginSpec = z.strictObject({
  targetRefs: z
    .array(filterPluginTargetRef)
    .min(1, "needs at least one target: the Gateway (waypoint) or Service the plugin applies to")
    .max(16),
  module: z.string().min(1).max(4096),
  sha256: z.string().regex(/^[a-f0-9]{64}$/, "must be the module's SHA-256: 64 lower-case hex digits"),
  config: jsonObject.default(() => ({})),
  phase: z.enum(["AUTHN", "AUTHZ", "STATS", "ROUTE"]).default("AUTHZ"),
  priority: z.number().int().min(-2147483648).max(2147483647).default(0),
  failurePolicy: z.enum(["FailOpen", "FailClosed"]).default("FailClosed"),
  timeout: gatewayDuration.optional(),
});
export type FilterPluginSpec = z.infer<typeof filterPluginSpec>;

/** What is wrong with a module path, if anything. */
export function modulePathProblem(path: string): string | null {
  if (!path.startsWith("/")) return "must be an absolute path";
  if (path.includes("\0")) return "must not contain NUL";
  const segments = path.slice(1).split("/");
  if (segments.some((s) => s === "" || s === "." || s === "..")) return 'must be normalized: no empty, "." or ".." segments';
  if (!/\.(ts|js)$/.test(path)) return "must name a .ts or .js file";
  return null;
}

export const filterPluginKind = defineKind<FilterPluginSpec>({
  kind: "FilterPlugin",
  plural: "filterplugins",
  shortNames: ["fp"],
  apiVersions: ["mesh.dev/v1"],
  namespaced: true,
  spec: filterPluginSpec,
  check: (spec) => {
    const issues: FieldIssue[] = [];
    spec.targetRefs.forEach((t, i) => {
      const want = t.kind === "Gateway" ? GATEWAY_GROUP : "";
      if (t.group !== undefined && t.group !== want) {
        issues.push({ path: `spec.targetRefs[${i}].group`, message: `must be ${want === "" ? '"" (the core group)' : want} for kind ${t.kind}` });
      }
    });
    issues.push(...duplicateIssues(spec.targetRefs, "spec.targetRefs", (t) => `${t.kind}/${t.name}`));
    const module = modulePathProblem(spec.module);
    if (module) issues.push({ path: "spec.module", message: module });
    if (spec.timeout !== undefined && gatewayDurationMs(spec.timeout) === 0) issues.push({ path: "spec.timeout", message: "must be longer than 0 (leave it out for no bound)" });
    return issues;
  },
});
