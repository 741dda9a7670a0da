/** ServiceEntry (networking.istio.io/v1): services outside the registry — hosts, VIPs, ports, endpoints. */
import { z } from "zod";
import { parseIp } from "../../../net/ip.ts";
import { cidrIssues, labels, portNumber } from "../common.ts";
import { defineKind } from "../kind.ts";
import type { FieldIssue } from "../issues.ts";

const endpoint = z.strictObject({
  address: z.string().optional(),
  ports: z.record(z.string().min(1), portNumber).optional(),
  labels: labels.optional(),
  network: z.string().optional(),
  locality: z.string().optional(),
  weight: z.number().int().min(0).optional(),
  serviceAccount: z.string().optional(),
});

export const serviceEntrySpec = z.strictObject({
  hosts: z.array(z.string().min(1)).min(1, "a ServiceEntry needs at least one host"),
  addresses: z.array(z.string()).optional(),
  ports: z
    .array(
      z.strictObject({
        number: portNumber,
        protocol: z.enum(["HTTP", "HTTPS", "GRPC", "HTTP2", "MONGO", "TCP", "TLS"]).optional(),
        name: z.string().min(1),
        targetPort: portNumber.optional(),
      }),
    )
    .optional(),
  location: z.enum(["MESH_EXTERNAL", "MESH_INTERNAL"]).optional(),
  resolution: z.enum(["NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN"]).optional(),
  endpoints: z.array(endpoint).optional(),
  workloadSelector: z.strictObject({ labels: labels.optional() }).optional(),
  exportTo: z.array(z.string()).optional(),
  subjectAltNames: z.array(z.string()).optional(),
});
export type ServiceEntrySpec = z.infer<typeof serviceEntrySpec>;


export const serviceEntryKind = defineKind<ServiceEntrySpec>({
  kind: "ServiceEntry",
  plural: "serviceentries",
  shortNames: ["se"],
  apiVersions: ["networking.istio.io/v1", "networking.istio.io/v1beta1", "networking.istio.io/v1alpha3"],
  namespaced: true,
  spec: serviceEntrySpec,
  check: (spec) => {
    const issues: FieldIssue[] = [...cidrIssues("spec.addresses", spec.addresses)];
    spec.hosts.forEach((h, i) => {
      if (!/^(\*|(\*\.)?[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*)$/.test(h)) {
        issues.push({ path: `spec.hosts[${i}]`, message: `"${h}" is not a host name (a leading "*." wildcard is allowed)` });
      }
    });
    if (spec.endpoints && spec.workloadSelector) issues.push({ path: "spec", message: "only one of endpoints, workloadSelector may be set" });
    (spec.endpoints ?? []).forEach((e, i) => {
      if (spec.resolution === "STATIC" && (!e.address || !parseIp(e.address))) {
        issues.push({ path: `spec.endpoints[${i}].address`, message: "resolution STATIC needs an IP address" });
      }
    });
    return issues;
  },
});
