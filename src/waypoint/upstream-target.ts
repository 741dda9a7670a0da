/**
 * Which destination a request goes to (pure): the backend the router chose, or — with no route
 * attached — the destination the tunnel was admitted for (the listener's service and port, or its
 * workload). A backend is a Service by namespace and name (Gateway API) or a mesh hostname by
 * "<namespace>/<hostname>" (the listener's own default route).
 */
import { MeshError } from "../errors/mesh-error.ts";
import type { UpstreamSelection } from "../plugin-api/index.ts";
import type { MeshState } from "../state/mesh-state.ts";
import type { ListenerMatch } from "./state.ts";
import type { UpstreamTarget } from "./upstream-plan.ts";

export function upstreamTargetOf(state: MeshState, match: ListenerMatch, selection: UpstreamSelection | null): UpstreamTarget | MeshError {
  const { listener, port } = match;
  if (selection === null || (selection.backend.kind === "Hostname" && `${selection.backend.namespace}/${selection.backend.name}` === listener.key && selection.backend.port === port.port)) {
    if (listener.kind === "service") return { kind: "service", key: listener.key, port: port.port };
    for (const a of listener.addresses) {
      const w = state.workloadAt(a);
      if (w) return { kind: "workload", workload: w, port: port.targetPort || port.port };
    }
    return new MeshError("unavailable", `workload ${listener.key} is not known`);
  }
  const b = selection.backend;
  if (b.kind === "Hostname") return { kind: "service", key: `${b.namespace}/${b.name}`, port: b.port };
  if (b.kind !== "Service" || (b.group !== "" && b.group !== "core")) return new MeshError("unavailable", `backend kind ${b.group ? `${b.group}/` : ""}${b.kind} is not served`);
  const service = state.serviceNamed(b.namespace, b.name);
  if (!service) return new MeshError("unavailable", `backend service ${b.namespace}/${b.name} is not known`);
  return { kind: "service", key: `${service.namespace}/${service.hostname}`, port: b.port };
}
