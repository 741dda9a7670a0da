/** A Gateway named as NAMESPACE/NAME (`--gateway`, `--waypoint`, a waypoint token's subject). */
import { MeshError } from "../errors/mesh-error.ts";

export interface GatewayRef {
  readonly namespace: string;
  readonly name: string;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** `path` names where the text came from (a flag or body field), for the error. */
export function parseGatewayRef(text: string, path: string): GatewayRef {
  const parts = text.split("/");
  if (parts.length !== 2 || !DNS_LABEL.test(parts[0] as string) || !DNS_LABEL.test(parts[1] as string)) {
    throw new MeshError("invalid_argument", `${path} ${JSON.stringify(text)}: give NAMESPACE/NAME (DNS labels)`, { detail: { path } });
  }
  return { namespace: parts[0] as string, name: parts[1] as string };
}

export function formatGatewayRef(ref: GatewayRef): string {
  return `${ref.namespace}/${ref.name}`;
}
