/**
 * Gateway (gateway.networking.k8s.io/v1) as of Gateway API v1.6. mesh runs Gateways of one class
 * only, `istio-waypoint`: a waypoint. Any other class is refused rather than stored and ignored.
 * A waypoint's usual listener is `{name: mesh, port: 15008, protocol: HBONE}`; HTTP, HTTPS, TLS
 * and TCP listeners are accepted as upstream defines them.
 *
 * Checks follow upstream's CEL rules: listener names unique, port+protocol+hostname unique, tls
 * only where the protocol has TLS and then consistent with it, no hostname on TCP, addresses
 * well-formed and unique, selectors present where `from: Selector` needs them.
 */
import { z } from "zod";
import { parseIp } from "../../../net/ip.ts";
import { labelKey, labels, portNumber, duplicateIssues } from "../common.ts";
import { defineKind } from "../kind.ts";
import type { FieldIssue } from "../issues.ts";
import { gatewayGroup, hostname, namespaceName, objectName, refKind, secretObjectReference, sectionName } from "./http-route.ts";

export const WAYPOINT_CLASS = "istio-waypoint";
/** Route kinds a waypoint serves. */
const ROUTE_KINDS = new Set(["HTTPRoute", "GRPCRoute"]);

/** Kubernetes metav1.LabelSelector. */
export const labelSelector = z.strictObject({
  matchLabels: labels.optional(),
  matchExpressions: z
    .array(
      z.strictObject({
        key: labelKey,
        operator: z.enum(["In", "NotIn", "Exists", "DoesNotExist"]),
        values: z.array(z.string()).optional(),
      }),
    )
    .optional(),
});
export type LabelSelector = z.infer<typeof labelSelector>;

const routeNamespaces = z.strictObject({ from: z.enum(["All", "Same", "Selector"]).optional(), selector: labelSelector.optional() });
const listenerNamespaces = z.strictObject({ from: z.enum(["All", "Same", "Selector", "None"]).optional(), selector: labelSelector.optional() });

const listenerTls = z.strictObject({
  mode: z.enum(["Terminate", "Passthrough"]).optional(),
  certificateRefs: z.array(secretObjectReference).max(64).optional(),
  options: z
    .record(labelKey, z.string().max(4096))
    .refine((o) => Object.keys(o).length <= 16, "at most 16 options")
    .optional(),
});

export const listener = z.strictObject({
  name: sectionName,
  hostname: hostname.optional(),
  port: portNumber,
  protocol: z.enum(["HBONE", "HTTP", "HTTPS", "TLS", "TCP"]),
  tls: listenerTls.optional(),
  allowedRoutes: z
    .strictObject({
      namespaces: routeNamespaces.optional(),
      kinds: z.array(z.strictObject({ group: gatewayGroup.optional(), kind: refKind })).max(8).optional(),
    })
    .optional(),
});
export type Listener = z.infer<typeof listener>;

const objectReference = z.strictObject({ group: gatewayGroup, kind: refKind, name: objectName, namespace: namespaceName.optional() });
const frontendTls = z.strictObject({
  validation: z
    .strictObject({
      caCertificateRefs: z.array(objectReference).min(1).max(16),
      mode: z.enum(["AllowValidOnly", "AllowInsecureFallback"]).optional(),
    })
    .optional(),
});

export const gatewaySpec = z.strictObject({
  gatewayClassName: objectName,
  listeners: z.array(listener).min(1, "a Gateway needs at least one listener").max(64),
  addresses: z
    .array(
      z.strictObject({
        type: z
          .string()
          .min(1)
          .max(253)
          .regex(/^(Hostname|IPAddress|NamedAddress|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[A-Za-z0-9/\-._~%!$&'()*+,;=:]+)$/, "must be IPAddress, Hostname, NamedAddress or a domain-prefixed type")
          .optional(),
        value: z.string().max(253).optional(),
      }),
    )
    .max(16)
    .optional(),
  infrastructure: z
    .strictObject({
      labels: labels.refine((l) => Object.keys(l).length <= 8, "at most 8 labels").optional(),
      annotations: z
        .record(labelKey, z.string().max(4096))
        .refine((a) => Object.keys(a).length <= 16, "at most 16 annotations")
        .optional(),
      parametersRef: z.strictObject({ group: gatewayGroup, kind: refKind, name: objectName }).optional(),
    })
    .optional(),
  allowedListeners: z.strictObject({ namespaces: listenerNamespaces.optional() }).optional(),
  tls: z
    .strictObject({
      backend: z.strictObject({ clientCertificateRef: secretObjectReference.optional() }).optional(),
      frontend: z
        .strictObject({
          default: frontendTls,
          perPort: z.array(z.strictObject({ port: portNumber, tls: frontendTls })).max(64).optional(),
        })
        .optional(),
    })
    .optional(),
});
export type GatewaySpec = z.infer<typeof gatewaySpec>;

function selectorIssues(ns: { from?: string; selector?: LabelSelector } | undefined, at: string): FieldIssue[] {
  const issues: FieldIssue[] = [];
  if (ns?.from === "Selector" && !ns.selector) issues.push({ path: `${at}.selector`, message: "required when from is Selector" });
  (ns?.selector?.matchExpressions ?? []).forEach((e, i) => {
    if (issues.length >= 100) return; // enough to act on; keeps the list safe to spread
    const p = `${at}.selector.matchExpressions[${i}].values`;
    const has = (e.values?.length ?? 0) > 0;
    if ((e.operator === "In" || e.operator === "NotIn") && !has) issues.push({ path: p, message: `required (non-empty) when operator is ${e.operator}` });
    if ((e.operator === "Exists" || e.operator === "DoesNotExist") && has) issues.push({ path: p, message: `must be empty when operator is ${e.operator}` });
  });
  return issues;
}

function listenerIssues(l: Listener, at: string): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const tlsProtocol = l.protocol === "HTTPS" || l.protocol === "TLS";
  if (l.tls && !tlsProtocol) issues.push({ path: `${at}.tls`, message: `not allowed for protocol ${l.protocol}` });
  if (!l.tls && tlsProtocol) issues.push({ path: `${at}.tls`, message: `required for protocol ${l.protocol}` });
  if (l.tls && tlsProtocol) {
    const mode = l.tls.mode ?? "Terminate";
    if (l.protocol === "TLS" && l.tls.mode === undefined) issues.push({ path: `${at}.tls.mode`, message: "required for protocol TLS" });
    if (l.protocol === "HTTPS" && mode !== "Terminate") issues.push({ path: `${at}.tls.mode`, message: "must be Terminate for protocol HTTPS" });
    if (mode === "Terminate" && !l.tls.certificateRefs?.length && Object.keys(l.tls.options ?? {}).length === 0) {
      issues.push({ path: `${at}.tls`, message: "mode Terminate needs certificateRefs or options" });
    }
  }
  if (l.protocol === "TCP" && l.hostname !== undefined) issues.push({ path: `${at}.hostname`, message: "not allowed for protocol TCP" });
  issues.push(...selectorIssues(l.allowedRoutes?.namespaces, `${at}.allowedRoutes.namespaces`));
  return issues;
}

function addressIssues(addresses: GatewaySpec["addresses"]): FieldIssue[] {
  const issues: FieldIssue[] = [];
  (addresses ?? []).forEach((a, i) => {
    const type = a.type ?? "IPAddress";
    const p = `spec.addresses[${i}].value`;
    if (a.value === undefined || a.value === "") return;
    if (type === "IPAddress" && !parseIp(a.value)) issues.push({ path: p, message: `"${a.value}" is not an IP address` });
    if (type === "Hostname" && !hostname.safeParse(a.value).success) issues.push({ path: p, message: `"${a.value}" is not a host name` });
  });
  issues.push(
    ...duplicateIssues(
      addresses,
      "spec.addresses",
      (a) => (a.value && ["IPAddress", "Hostname"].includes(a.type ?? "IPAddress") ? `${a.type ?? "IPAddress"}/${a.value}` : undefined),
      ".value",
    ),
  );
  return issues;
}

export const gatewayKind = defineKind<GatewaySpec>({
  kind: "Gateway",
  plural: "gateways",
  shortNames: ["gtw"],
  apiVersions: ["gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1beta1"],
  namespaced: true,
  spec: gatewaySpec,
  check: (spec) => {
    const issues: FieldIssue[] = [];
    if (spec.gatewayClassName !== WAYPOINT_CLASS) {
      issues.push({ path: "spec.gatewayClassName", message: `mesh serves only waypoints: must be "${WAYPOINT_CLASS}", got "${spec.gatewayClassName}"` });
    }
    issues.push(...duplicateIssues(spec.listeners, "spec.listeners", (l) => l.name, ".name"));
    issues.push(...duplicateIssues(spec.listeners, "spec.listeners", (l) => `${l.port}/${l.protocol}/${l.hostname ?? ""}`, "", (first) => `same port, protocol and hostname as ${first}`));
    spec.listeners.forEach((l, i) => issues.push(...listenerIssues(l, `spec.listeners[${i}]`)));
    issues.push(...addressIssues(spec.addresses));
    issues.push(...selectorIssues(spec.allowedListeners?.namespaces, "spec.allowedListeners.namespaces"));
    issues.push(...duplicateIssues(spec.tls?.frontend?.perPort, "spec.tls.frontend.perPort", (p) => String(p.port), ".port"));
    return issues;
  },
  warn: (spec) => {
    const warnings: FieldIssue[] = [];
    if (!spec.listeners.some((l) => l.protocol === "HBONE")) {
      warnings.push({ path: "spec.listeners", message: "no HBONE listener: mesh traffic reaches a waypoint only over HBONE (usually {name: mesh, port: 15008, protocol: HBONE})" });
    }
    spec.listeners.forEach((l, i) => {
      (l.allowedRoutes?.kinds ?? []).forEach((k, j) => {
        if ((k.group ?? "gateway.networking.k8s.io") !== "gateway.networking.k8s.io" || !ROUTE_KINDS.has(k.kind)) {
          warnings.push({ path: `spec.listeners[${i}].allowedRoutes.kinds[${j}]`, message: `a waypoint serves only HTTPRoute and GRPCRoute; ${k.kind} routes are never attached` });
        }
      });
    });
    return warnings;
  },
});
