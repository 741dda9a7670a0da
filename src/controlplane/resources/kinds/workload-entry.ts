/**
 * WorkloadEntry (networking.istio.io/v1): one workload — a VM, a container, a process — with its
 * address, labels and service account. mesh adds `node`: the node whose ztunnel serves it (and
 * the only node that may obtain its certificate), and `hostInterface`: the interface on that node
 * the workload's traffic enters through (its veth's host side). A ztunnel capturing with iptables
 * grants the workload's identity only to traffic from that interface (docs/security.md).
 */
import { z } from "zod";
import { isInterfaceName } from "../../../net/interface-name.ts";
import { parseIp } from "../../../net/ip.ts";
import { isDnsSubdomain, labels, portNumber } from "../common.ts";
import { defineKind } from "../kind.ts";

export const workloadEntrySpec = z.strictObject({
  address: z.string().min(1),
  ports: z.record(z.string().min(1), portNumber).optional(),
  labels: labels.optional(),
  network: z.string().optional(),
  locality: z.string().optional(),
  weight: z.number().int().min(0).max(4294967295).optional(),
  serviceAccount: z.string().optional(),
  node: z.string().min(1, "node is required: the node whose ztunnel serves this workload"),
  hostInterface: z.string().optional(),
});
export type WorkloadEntrySpec = z.infer<typeof workloadEntrySpec>;

export const workloadEntryKind = defineKind<WorkloadEntrySpec>({
  kind: "WorkloadEntry",
  plural: "workloadentries",
  shortNames: ["we"],
  apiVersions: ["networking.istio.io/v1", "networking.istio.io/v1beta1", "networking.istio.io/v1alpha3"],
  namespaced: true,
  spec: workloadEntrySpec,
  check: (spec) => [
    ...(parseIp(spec.address) ? [] : [{ path: "spec.address", message: `"${spec.address}" is not an IP address` }]),
    ...(spec.serviceAccount === undefined || isDnsSubdomain(spec.serviceAccount)
      ? []
      : [{ path: "spec.serviceAccount", message: "must be a DNS subdomain" }]),
    ...(isDnsSubdomain(spec.node) ? [] : [{ path: "spec.node", message: "must be a DNS subdomain (lower-case letters, digits, '-', '.')" }]),
    ...(spec.hostInterface === undefined || isInterfaceName(spec.hostInterface)
      ? []
      : [{ path: "spec.hostInterface", message: "must be a network interface name on the node (1-15 of letters, digits, '_', '-', '.', '@')" }]),
  ],
});
