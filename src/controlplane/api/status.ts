/** API error bodies in the shape Kubernetes clients know (kind: Status), from a MeshError. */
import { MeshError } from "../../errors/mesh-error.ts";
import { httpStatusFor } from "../../errors/http-status.ts";

export interface StatusBody {
  readonly kind: "Status";
  readonly apiVersion: "v1";
  readonly status: "Failure";
  readonly code: number;
  readonly reason: string;
  readonly message: string;
  readonly details?: unknown;
}

export function statusBody(err: unknown): StatusBody {
  const e = MeshError.from(err);
  const { documents, path, accepted } = e.detail as { documents?: unknown; path?: string; accepted?: readonly string[] };
  const details = documents ?? (path || accepted ? { path, accepted } : undefined);
  return {
    kind: "Status",
    apiVersion: "v1",
    status: "Failure",
    code: httpStatusFor(e.code),
    reason: e.code,
    message: e.message,
    ...(details ? { details } : {}),
  };
}
