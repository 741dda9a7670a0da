/** Namespace (v1): its labels opt workloads into the mesh (istio.io/dataplane-mode) and onto a waypoint (istio.io/use-waypoint). */
import { z } from "zod";
import { defineKind } from "../kind.ts";

export const DATAPLANE_MODE_LABEL = "istio.io/dataplane-mode";
export const USE_WAYPOINT_LABEL = "istio.io/use-waypoint";
export const USE_WAYPOINT_NAMESPACE_LABEL = "istio.io/use-waypoint-namespace";

export const namespaceSpec = z.strictObject({ finalizers: z.array(z.string()).optional() });
export type NamespaceSpec = z.infer<typeof namespaceSpec>;

export const namespaceKind = defineKind<NamespaceSpec>({
  kind: "Namespace",
  plural: "namespaces",
  shortNames: ["ns"],
  apiVersions: ["v1"],
  namespaced: false,
  specOptional: true,
  spec: namespaceSpec,
  check: (_spec, meta) => {
    const mode = meta.labels[DATAPLANE_MODE_LABEL];
    return mode === undefined || mode === "ambient" || mode === "none"
      ? []
      : [{ path: `metadata.labels["${DATAPLANE_MODE_LABEL}"]`, message: `must be "ambient" or "none", got "${mode}"` }];
  },
});
