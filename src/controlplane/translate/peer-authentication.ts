/**
 * PeerAuthentication → the mTLS mode of each workload (and per port), by Istio's precedence: a
 * policy selecting the workload beats its namespace's selector-less policy, which beats the
 * mesh-wide one in the root namespace; UNSET inherits from the next level; the default is
 * PERMISSIVE. When several policies tie at one level, the oldest wins (as Istio does). Pure.
 */
import type { PeerAuthenticationSpec } from "../resources/kinds/peer-authentication.ts";
import type { Resource } from "../resources/resource.ts";
import type { MtlsMode } from "../../xds/view.ts";
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

export function mtlsFor(
  workload: { namespace: string; labels: Readonly<Record<string, string>> },
  policies: readonly Resource<PeerAuthenticationSpec>[],
  options: TranslateOptions,
): MtlsSettings {
  const sorted = [...policies].sort(oldestFirst);
  const withoutSelector = (ns: string) => sorted.find((p) => p.metadata.namespace === ns && !p.spec.selector?.matchLabels);
  const selecting = sorted.find(
    (p) => p.metadata.namespace === workload.namespace && p.spec.selector?.matchLabels && selectorMatches(p.spec.selector.matchLabels, workload.labels),
  );
  const levels = [selecting, withoutSelector(workload.namespace), withoutSelector(options.rootNamespace)];
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
