/**
 * `mesh get` tables, kubectl style: NAMESPACE (when listing every namespace), NAME, a few columns
 * that say what a kind is for, AGE; `wide` adds labels and the resourceVersion. Pure: resources
 * and the current time in, text out.
 */
import type { StoredResource } from "../controlplane/resources/resource.ts";
import { formatColumns } from "./columns.ts";

type Column = readonly [header: string, value: (r: StoredResource) => string];

const spec = (r: StoredResource) => r.spec as Record<string, unknown>;
const list = (v: unknown) => (Array.isArray(v) ? v.join(",") : "");
const share = (v: { percentage?: number }) => `${v.percentage ?? 100}%`;

/** An HTTPFault's delay ("2s 50%") or abort ("503 10%", "grpc 14 100%"); "<none>" when unset. */
function faultColumn(r: StoredResource, part: "delay" | "abort"): string {
  const f = spec(r)[part] as { fixedDelay?: string; httpStatus?: number; grpcStatus?: number; percentage?: number } | undefined;
  if (!f) return "<none>";
  if (part === "delay") return `${f.fixedDelay} ${share(f)}`;
  return `${f.httpStatus ?? `grpc ${f.grpcStatus}`} ${share(f)}`;
}

const KIND_COLUMNS: Record<string, readonly Column[]> = {
  Namespace: [["DATAPLANE-MODE", (r) => r.metadata.labels["istio.io/dataplane-mode"] ?? ""], ["WAYPOINT", (r) => r.metadata.labels["istio.io/use-waypoint"] ?? ""]],
  Service: [
    ["CLUSTER-IP", (r) => String(spec(r).clusterIP ?? "<none>")],
    ["PORTS", (r) => ((spec(r).ports as Array<{ port: number; protocol?: string }>) ?? []).map((p) => `${p.port}/${p.protocol ?? "TCP"}`).join(",")],
  ],
  WorkloadEntry: [
    ["ADDRESS", (r) => String(spec(r).address ?? "")],
    ["NODE", (r) => String(spec(r).node ?? "")],
    ["SERVICE-ACCOUNT", (r) => String(spec(r).serviceAccount ?? "default")],
  ],
  ServiceEntry: [["HOSTS", (r) => list(spec(r).hosts)], ["LOCATION", (r) => String(spec(r).location ?? "")], ["RESOLUTION", (r) => String(spec(r).resolution ?? "")]],
  AuthorizationPolicy: [["ACTION", (r) => String(spec(r).action ?? "ALLOW")], ["RULES", (r) => String((spec(r).rules as unknown[] | undefined)?.length ?? 0)]],
  PeerAuthentication: [["MODE", (r) => String((spec(r).mtls as { mode?: string } | undefined)?.mode ?? "UNSET")]],
  Gateway: [["CLASS", (r) => String(spec(r).gatewayClassName ?? "")]],
  HTTPRoute: [["HOSTNAMES", (r) => list(spec(r).hostnames)]],
  GRPCRoute: [["HOSTNAMES", (r) => list(spec(r).hostnames)]],
  HTTPFault: [["DELAY", (r) => faultColumn(r, "delay")], ["ABORT", (r) => faultColumn(r, "abort")]],
};

export function formatAge(createdIso: string, now: Date): string {
  const seconds = Math.max(0, Math.floor((now.getTime() - Date.parse(createdIso)) / 1000));
  if (Number.isNaN(seconds)) return "<unknown>";
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 172_800) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86_400)}d`;
}

export function renderTable(items: readonly StoredResource[], options: { allNamespaces: boolean; wide: boolean; now: Date }): string {
  if (items.length === 0) return "No resources found.";
  const kind = items[0]?.kind ?? "";
  const columns: Column[] = [
    ...(options.allNamespaces && items.some((r) => r.metadata.namespace !== "") ? [["NAMESPACE", (r: StoredResource) => r.metadata.namespace] as Column] : []),
    ["NAME", (r) => r.metadata.name],
    ...(KIND_COLUMNS[kind] ?? []),
    ["AGE", (r) => formatAge(r.metadata.creationTimestamp, options.now)],
    ...(options.wide
      ? [
          ["RESOURCE-VERSION", (r: StoredResource) => r.metadata.resourceVersion] as Column,
          ["LABELS", (r: StoredResource) => Object.entries(r.metadata.labels).map(([k, v]) => `${k}=${v}`).join(",") || "<none>"] as Column,
        ]
      : []),
  ];
  return formatColumns([columns.map(([h]) => h), ...items.map((r) => columns.map(([, f]) => f(r)))]);
}
