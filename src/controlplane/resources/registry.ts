/** Every resource kind mesh accepts, found by kind name, plural or short name. */
import type { KindDefinition } from "./kind.ts";
import { authorizationPolicyKind } from "./kinds/authorization-policy.ts";
import { filterPluginKind } from "./kinds/filter-plugin.ts";
import { gatewayKind } from "./kinds/gateway.ts";
import { grpcRouteKind } from "./kinds/grpc-route.ts";
import { httpFaultKind } from "./kinds/http-fault.ts";
import { httpRouteKind } from "./kinds/http-route.ts";
import { namespaceKind } from "./kinds/namespace.ts";
import { peerAuthenticationKind } from "./kinds/peer-authentication.ts";
import { requestAuthenticationKind } from "./kinds/request-authentication.ts";
import { serviceEntryKind } from "./kinds/service-entry.ts";
import { serviceKind } from "./kinds/service.ts";
import { wasmPluginKind } from "./kinds/wasm-plugin.ts";
import { workloadEntryKind } from "./kinds/workload-entry.ts";

export const KINDS: readonly KindDefinition<never>[] = [
  namespaceKind,
  serviceKind,
  workloadEntryKind,
  serviceEntryKind,
  authorizationPolicyKind,
  peerAuthenticationKind,
  requestAuthenticationKind,
  gatewayKind,
  httpRouteKind,
  grpcRouteKind,
  wasmPluginKind,
  filterPluginKind,
  httpFaultKind,
] as unknown as readonly KindDefinition<never>[];

const byName = new Map<string, KindDefinition<never>>();
for (const def of KINDS) {
  for (const name of [def.kind, def.kind.toLowerCase(), def.plural, ...(def.shortNames ?? [])]) byName.set(name, def);
}

export function kindByName(name: string): KindDefinition<never> | undefined {
  return byName.get(name) ?? byName.get(name.toLowerCase());
}

export function kindDefinition(kind: string): KindDefinition<never> | undefined {
  return KINDS.find((k) => k.kind === kind);
}
