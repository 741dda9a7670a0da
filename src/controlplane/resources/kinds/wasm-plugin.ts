/**
 * WasmPlugin (extensions.istio.io/v1alpha1): a proxy-wasm module the waypoint runs in its filter
 * chain — where it comes from (url, pinned by sha256), its configuration, its place in the chain
 * (phase, priority), what happens when it fails, its VM environment and the traffic it sees.
 *
 * As in Istio: a url with no scheme is an OCI image reference; sha256 may be empty (then the
 * module is not pinned, which is warned about for remote urls); env values come from the
 * resource (INLINE, the default) or the host's environment (HOST, and then `value` is refused).
 * `jsonObject` (pluginConfig) is shared with FilterPlugin.
 */
import { z } from "zod";
import { matchLabelsSelector, portNumber, selectorVersusTargets, targetRef, duplicateIssues } from "../common.ts";
import { defineKind } from "../kind.ts";
import type { FieldIssue } from "../issues.ts";

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

const MAX_JSON_ISSUES = 20;

/** One node of a walk; the path is built from the parent chain only when reported. */
interface Step {
  readonly value: unknown;
  readonly key: PropertyKey | null;
  readonly parent: Step | null;
}

function pathOf(step: Step): PropertyKey[] {
  const path: PropertyKey[] = [];
  for (let s: Step | null = step; s !== null && s.key !== null; s = s.parent) path.push(s.key);
  return path.reverse();
}

/**
 * Where a value is not plain JSON: non-finite numbers, non-JSON types, and "__proto__" keys (a JS
 * object cannot hold one as data; zod's record would drop it silently). Iterative and linear in
 * the number of nodes, so neither depth nor size can blow the stack; reports at most
 * MAX_JSON_ISSUES.
 */
export function jsonProblems(value: unknown): Array<{ path: PropertyKey[]; message: string }> {
  const out: Array<{ path: PropertyKey[]; message: string }> = [];
  const stack: Step[] = [{ value, key: null, parent: null }];
  while (stack.length > 0 && out.length < MAX_JSON_ISSUES) {
    const step = stack.pop() as Step;
    const v = step.value;
    if (step.key === "__proto__") {
      out.push({ path: pathOf(step), message: 'the key "__proto__" is not allowed' });
    } else if (typeof v === "number") {
      if (!Number.isFinite(v)) out.push({ path: pathOf(step), message: `must be a finite number (got ${v})` });
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], key: i, parent: step });
    } else if (isPlainObject(v)) {
      const keys = Object.keys(v);
      for (let i = keys.length - 1; i >= 0; i--) stack.push({ value: v[keys[i] as string], key: keys[i] as string, parent: step });
    } else if (v !== null && typeof v !== "string" && typeof v !== "boolean") {
      out.push({ path: pathOf(step), message: `not a JSON value (${typeof v})` });
    }
  }
  return out;
}

/** Free-form configuration: any JSON object (finite numbers only, so it survives JSON), kept as written. */
export const jsonObject = z.custom<Record<string, JsonValue>>(isPlainObject, "must be a mapping (a JSON object)").superRefine((obj, ctx) => {
  for (const p of jsonProblems(obj)) ctx.addIssue({ code: "custom", path: p.path, message: p.message });
});

export const SHA256_HEX = /^[a-f0-9]{64}$/;
const URL_SCHEMES = ["file:", "http:", "https:", "oci:"];

export const wasmPluginSpec = z.strictObject({
  selector: matchLabelsSelector.optional(),
  targetRef: targetRef.optional(),
  targetRefs: z.array(targetRef).max(16).optional(),
  url: z.string().min(1, "required: where to fetch the module (file://, http://, https://, oci://)"),
  sha256: z.string().regex(/^$|^[a-f0-9]{64}$/, "must be 64 lower-case hex digits").optional(),
  imagePullPolicy: z.enum(["UNSPECIFIED_POLICY", "IfNotPresent", "Always"]).optional(),
  imagePullSecret: z.string().min(1).max(253).optional(),
  verificationKey: z.string().optional(),
  pluginConfig: jsonObject.optional(),
  pluginName: z.string().min(1).max(256).optional(),
  phase: z.enum(["UNSPECIFIED_PHASE", "AUTHN", "AUTHZ", "STATS"]).optional(),
  priority: z.number().int().min(-2147483648).max(2147483647).optional(),
  failStrategy: z.enum(["FAIL_CLOSE", "FAIL_OPEN", "FAIL_RELOAD"]).optional(),
  vmConfig: z
    .strictObject({
      env: z
        .array(
          z.strictObject({
            name: z.string().min(1).max(256),
            valueFrom: z.enum(["INLINE", "HOST"]).optional(),
            value: z.string().max(2048).optional(),
          }),
        )
        .max(256)
        .optional(),
    })
    .optional(),
  match: z
    .array(
      z.strictObject({
        mode: z.enum(["UNDEFINED", "CLIENT", "SERVER", "CLIENT_AND_SERVER"]).optional(),
        ports: z.array(z.strictObject({ number: portNumber })).optional(),
      }),
    )
    .optional(),
  type: z.enum(["UNSPECIFIED_PLUGIN_TYPE", "HTTP", "NETWORK"]).optional(),
});
export type WasmPluginSpec = z.infer<typeof wasmPluginSpec>;

/** The url with its scheme made explicit (none means OCI), or why it is not one mesh can fetch. */
export function wasmUrl(url: string): { url: URL } | { problem: string } {
  const explicit = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(url);
  let parsed: URL;
  try {
    parsed = new URL(explicit ? url : `oci://${url}`);
  } catch {
    return { problem: `"${url}" is not a URL or image reference` };
  }
  if (!URL_SCHEMES.includes(parsed.protocol)) return { problem: `scheme must be one of file://, http://, https://, oci:// (got ${parsed.protocol}//)` };
  if (parsed.protocol === "file:" ? parsed.pathname === "/" : parsed.hostname === "") return { problem: `"${url}" names no ${parsed.protocol === "file:" ? "file" : "host"}` };
  return { url: parsed };
}

export const wasmPluginKind = defineKind<WasmPluginSpec>({
  kind: "WasmPlugin",
  plural: "wasmplugins",
  apiVersions: ["extensions.istio.io/v1alpha1"],
  namespaced: true,
  spec: wasmPluginSpec,
  check: (spec) => {
    const issues: FieldIssue[] = [...selectorVersusTargets(spec)];
    const u = wasmUrl(spec.url);
    if ("problem" in u) issues.push({ path: "spec.url", message: u.problem });
    issues.push(...duplicateIssues(spec.vmConfig?.env, "spec.vmConfig.env", (e) => e.name, ".name"));
    (spec.vmConfig?.env ?? []).forEach((e, i) => {
      if (e.valueFrom === "HOST" && e.value !== undefined) issues.push({ path: `spec.vmConfig.env[${i}].value`, message: "only allowed when valueFrom is INLINE" });
    });
    (spec.match ?? []).forEach((m, i) => issues.push(...duplicateIssues(m.ports, `spec.match[${i}].ports`, (p) => String(p.number), ".number")));
    return issues;
  },
  warn: (spec) => {
    const u = wasmUrl(spec.url);
    const remote = "url" in u && u.url.protocol !== "file:";
    return remote && !spec.sha256 ? [{ path: "spec.sha256", message: "not set: the module fetched from the url is not pinned and may change" }] : [];
  },
});
