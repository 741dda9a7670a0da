/**
 * The W3C baggage a proxy sends with a tunnel it opens for a workload: its namespace and name,
 * and its app and version labels (Kubernetes' recommended labels first), as Istio's ztunnel does.
 */
import type { WorkloadView } from "./view.ts";

export function baggageOf(w: WorkloadView): Record<string, string> {
  const out: Record<string, string> = { "k8s.namespace.name": w.namespace, "k8s.workload.name": w.name };
  const app = w.labels["app.kubernetes.io/name"] ?? w.labels.app;
  const version = w.labels["app.kubernetes.io/version"] ?? w.labels.version;
  if (app) out["service.name"] = app;
  if (version) out["service.version"] = version;
  return out;
}
