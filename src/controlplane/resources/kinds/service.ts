/** Service (v1): a selector over workloads, ports, and the virtual IP clients dial. */
import { z } from "zod";
import { parseIp } from "../../../net/ip.ts";
import { labels, portNumber } from "../common.ts";
import { defineKind } from "../kind.ts";
import type { FieldIssue } from "../issues.ts";

export const servicePort = z.strictObject({
  name: z.string().max(63).optional(),
  port: portNumber,
  targetPort: z.union([portNumber, z.string().min(1).max(15)]).optional(),
  protocol: z.enum(["TCP", "UDP", "SCTP"]).optional(),
  appProtocol: z.string().optional(),
});

export const serviceSpec = z.strictObject({
  selector: labels.optional(),
  ports: z.array(servicePort).min(1, "a Service needs at least one port"),
  clusterIP: z.string().optional(),
  clusterIPs: z.array(z.string()).max(2).optional(),
  type: z.enum(["ClusterIP"]).optional(),
});
export type ServiceSpec = z.infer<typeof serviceSpec>;

export const serviceKind = defineKind<ServiceSpec>({
  kind: "Service",
  plural: "services",
  shortNames: ["svc"],
  apiVersions: ["v1"],
  namespaced: true,
  spec: serviceSpec,
  check: (spec) => {
    const issues: FieldIssue[] = [];
    const ips = [...(spec.clusterIP && spec.clusterIP !== "None" ? [["spec.clusterIP", spec.clusterIP]] : []), ...(spec.clusterIPs ?? []).map((ip, i) => [`spec.clusterIPs[${i}]`, ip])];
    for (const [path, ip] of ips) if (!parseIp(ip as string)) issues.push({ path: path as string, message: `"${ip}" is not an IP address` });
    const seen = new Map<string, number>();
    spec.ports.forEach((p, i) => {
      const id = `${p.protocol ?? "TCP"}/${p.port}`;
      if (seen.has(id)) issues.push({ path: `spec.ports[${i}].port`, message: `duplicate of spec.ports[${seen.get(id)}] (${id})` });
      seen.set(id, i);
      if (spec.ports.length > 1 && !p.name) issues.push({ path: `spec.ports[${i}].name`, message: "required when a Service has more than one port" });
    });
    return issues;
  },
  warn: (spec) =>
    spec.ports.flatMap((p, i) =>
      p.protocol && p.protocol !== "TCP" ? [{ path: `spec.ports[${i}].protocol`, message: `${p.protocol} is not carried by the mesh (TCP only); traffic on it is not captured` }] : [],
    ),
});
