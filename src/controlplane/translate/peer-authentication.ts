/**
 * PeerAuthentication → the mTLS mode of each workload (and per port), by Istio's precedence: a
 * policy selecting the workload beats its namespace's selector-less policy, which beats the
 * mesh-wide one in the root namespace; UNSET inherits from the next level; the default is
 * PERMISSIVE. When several policies tie at one level, the oldest wins (as Istio does). Pure.
 */
import type { PeerAuthenticationSpec } from "../resources/kinds/peer-authentication.ts";
import type { Resource } from "../resources/resource.ts";
import type { MtlsMode } from "../../state/view.ts";
import { selectorMatches, type TranslateOptions } from "./snapshot.ts";

type Mode = NonNullable<NonNullable<PeerAuthenticationSpec["mtls"]>["mode"]>;

function asMode(mode: Mode | undefined): MtlsMode | undefined {
  if (mode === "STRICT") return "strict";
  if (mode === "PERMISSIVE") return "permissive";
  if (mode === "DISABLE") return "disable";
  return undefined;
}

function oldestFirst(a: Resource, b: Resource): number {
  const ta = a.metadata.creationTimestamp ?? "";
  const tb = b.metadata.creationTimestamp ?? "";
  return ta < tb ? -1 : ta > tb ? 1 : a.metadata.name < b.metadata.name ? -1 : 1;
}

export interface MtlsSettings {
  readonly mode: MtlsMode;
  readonly ports: Readonly<Record<number, MtlsMode>>;
}

/** Sort and group the policies once; the returned function answers per workload. */
export function prepareMtls(
  policies: readonly Resource<PeerAuthenticationSpec>[],
  options: TranslateOptions,
): (workload: { namespace: string; labels: Readonly<Record<string, string>> }) => MtlsSettings {
  const sorted = [...policies].sort(oldestFirst);
  const namespaceWide = new Map<string, Resource<PeerAuthenticationSpec>>();
  const selecting = new Map<string, Resource<PeerAuthenticationSpec>[]>();
  for (const p of sorted) {
    const ns = p.metadata.namespace;
    if (p.spec.selector?.matchLabels) selecting.set(ns, [...(selecting.get(ns) ?? []), p]);
    else if (!namespaceWide.has(ns)) namespaceWide.set(ns, p);
  }
  return (workload) => settingsFor(
    (selecting.get(workload.namespace) ?? []).find((p) => selectorMatches(p.spec.selector?.matchLabels, workload.labels)),
    namespaceWide.get(workload.namespace),
    namespaceWide.get(options.rootNamespace),
  );
}

function settingsFor(
  selecting: Resource<PeerAuthenticationSpec> | undefined,
  namespaceWide: Resource<PeerAuthenticationSpec> | undefined,
  meshWide: Resource<PeerAuthenticationSpec> | undefined,
): MtlsSettings {
  const levels = [selecting, namespaceWide, meshWide];
  let mode: MtlsMode = "permissive";
  for (const p of levels) {
    const m = asMode(p?.spec.mtls?.mode);
    if (m) {
      mode = m;
      break;
    }
  }
  const ports: Record<number, MtlsMode> = {};
  for (const [port, setting] of Object.entries(selecting?.spec.portLevelMtls ?? {})) {
    ports[Number(port)] = asMode(setting.mode) ?? mode;
  }
  return { mode, ports };
}
