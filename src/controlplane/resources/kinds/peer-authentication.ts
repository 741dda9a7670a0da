/** PeerAuthentication (security.istio.io/v1): whether plaintext is accepted by workloads (STRICT refuses it). */
import { z } from "zod";
import { matchLabelsSelector } from "../common.ts";
import { defineKind } from "../kind.ts";

const mode = z.enum(["UNSET", "DISABLE", "PERMISSIVE", "STRICT"]);

export const peerAuthenticationSpec = z.strictObject({
  selector: matchLabelsSelector.optional(),
  mtls: z.strictObject({ mode: mode.optional() }).optional(),
  portLevelMtls: z.record(z.string().regex(/^\d{1,5}$/, "port keys are numbers"), z.strictObject({ mode })).optional(),
});
export type PeerAuthenticationSpec = z.infer<typeof peerAuthenticationSpec>;

export const peerAuthenticationKind = defineKind<PeerAuthenticationSpec>({
  kind: "PeerAuthentication",
  plural: "peerauthentications",
  shortNames: ["pa"],
  apiVersions: ["security.istio.io/v1", "security.istio.io/v1beta1"],
  namespaced: true,
  spec: peerAuthenticationSpec,
  check: (spec) => [
    ...Object.keys(spec.portLevelMtls ?? {}).flatMap((port) =>
      Number(port) >= 1 && Number(port) <= 65535 ? [] : [{ path: `spec.portLevelMtls["${port}"]`, message: "port must be 1-65535" }],
    ),
    ...(spec.portLevelMtls && !spec.selector?.matchLabels
      ? [{ path: "spec.portLevelMtls", message: "needs a selector: port-level settings apply to selected workloads only" }]
      : []),
  ],
});
