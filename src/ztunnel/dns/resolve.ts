/**
 * Which names the ztunnel's DNS proxy answers itself, and with what: a pure decision over the
 * services the ztunnel knows. A DnsTable is built once per change of the service set and then
 * only read; a lookup returns decisions made at build time and allocates only the lower-cased
 * name it looks up.
 *
 * Mesh names (case-insensitive, trailing dot tolerated), tried in this order:
 *   1. a service's hostname exactly: "<svc>.<ns>.svc.<domain>", or a ServiceEntry-like host such
 *      as "api.example.com" (which answers for exactly that name and no short form);
 *   2. "<svc>.<ns>.svc"  → "<svc>.<ns>.svc.<domain>";
 *   3. "<svc>.<ns>"      → "<svc>.<ns>.svc.<domain>";
 *   4. "<svc>"           → "<svc>.<clientNs>.svc.<domain>", only when the client's namespace is known.
 * A mesh name answers A with its IPv4 VIPs and AAAA with its IPv6 VIPs (ANY: both); a type or
 * family it has nothing for gets an empty NOERROR answer, never a forward, so the name does not
 * leak upstream. Everything else is forwarded — including unknown names under "svc.<domain>",
 * unless `unknownClusterNames: "nxdomain"` (useful where no upstream knows the cluster domain).
 * When several services share a hostname, the one in the client's namespace wins, else the first
 * by namespace then name. Wildcard hosts ("*.example.com") and unparsable VIPs are ignored.
 */
import { parseIp } from "../../net/ip.ts";
import type { ServiceView } from "../../state/view.ts";
import { CLASS_ANY, CLASS_IN, RR_TYPE } from "./message.ts";

export const DEFAULT_CLUSTER_DOMAIN = "cluster.local";

export type DnsDecision =
  /** NOERROR with these addresses (4 or 16 octets each; possibly none). `hostname` is the service's. */
  | { readonly kind: "answer"; readonly hostname: string; readonly addresses: readonly Uint8Array[] }
  | { readonly kind: "nxdomain" }
  | { readonly kind: "forward" };

export interface DnsTableOptions {
  /** The cluster (trust) domain of service hostnames; default "cluster.local". */
  readonly clusterDomain?: string;
  /** Names under "svc.<domain>" that match no service: forwarded (default, as Istio) or NXDOMAIN. */
  readonly unknownClusterNames?: "forward" | "nxdomain";
}

interface Candidate {
  readonly namespace: string;
  readonly name: string;
  /** Decisions made once, so a lookup returns a shared object. */
  readonly a: DnsDecision;
  readonly aaaa: DnsDecision;
  readonly any: DnsDecision;
  readonly noData: DnsDecision;
}

const FORWARD: DnsDecision = Object.freeze({ kind: "forward" });
const NXDOMAIN: DnsDecision = Object.freeze({ kind: "nxdomain" });
const NONE: readonly Uint8Array[] = Object.freeze([]);

export class DnsTable {
  readonly clusterDomain: string;
  private readonly svcSuffix: string; // ".svc.<domain>"
  private readonly unknownNxdomain: boolean;
  /** Lower-cased hostname (no trailing dot) → services holding it, in preference order. */
  private readonly byHost = new Map<string, Candidate[]>();

  constructor(services: readonly ServiceView[], options: DnsTableOptions = {}) {
    this.clusterDomain = trimDot((options.clusterDomain ?? DEFAULT_CLUSTER_DOMAIN).toLowerCase());
    this.svcSuffix = `.svc.${this.clusterDomain}`;
    this.unknownNxdomain = options.unknownClusterNames === "nxdomain";
    for (const s of services) {
      const host = trimDot(s.hostname.toLowerCase());
      if (host === "" || host.includes("*")) continue;
      const v4: Uint8Array[] = [];
      const v6: Uint8Array[] = [];
      for (const vip of s.vips) {
        const bytes = parseIp(vip);
        if (bytes?.length === 4) v4.push(bytes);
        else if (bytes?.length === 16) v6.push(bytes);
      }
      const list = this.byHost.get(host) ?? [];
      const answer = (addresses: readonly Uint8Array[]): DnsDecision => Object.freeze({ kind: "answer", hostname: host, addresses });
      list.push({ namespace: s.namespace, name: s.name, a: answer(v4), aaaa: answer(v6), any: answer([...v4, ...v6]), noData: answer(NONE) });
      this.byHost.set(host, list);
    }
    for (const list of this.byHost.values()) {
      list.sort((a, b) => (a.namespace === b.namespace ? cmp(a.name, b.name) : cmp(a.namespace, b.namespace)));
    }
  }

  /** Hostnames the table answers for (their short forms aside). */
  get size(): number {
    return this.byHost.size;
  }

  /**
   * Decide for one question. `name` is a question name in presentation form (message.ts), with or
   * without a trailing dot; `clientNamespace` is the querying workload's, when it is known.
   */
  lookup(name: string, type: number, clientNamespace?: string, qclass: number = CLASS_IN): DnsDecision {
    if (qclass !== CLASS_IN && qclass !== CLASS_ANY) return FORWARD;
    const q = trimDot(name.toLowerCase());
    // An escaped octet can appear in no service hostname; the root is never a mesh name.
    if (q === "" || q.includes("\\")) return FORWARD;
    const candidates = this.byHost.get(q) ?? this.shortForm(q, clientNamespace);
    if (!candidates) return this.unknownNxdomain && q.endsWith(this.svcSuffix) ? NXDOMAIN : FORWARD;
    const chosen = pick(candidates, clientNamespace);
    return type === RR_TYPE.A ? chosen.a : type === RR_TYPE.AAAA ? chosen.aaaa : type === RR_TYPE.ANY ? chosen.any : chosen.noData;
  }

  private shortForm(q: string, clientNamespace: string | undefined): Candidate[] | undefined {
    const labels = countLabels(q);
    if (labels === 3 && q.endsWith(".svc")) return this.byHost.get(`${q}.${this.clusterDomain}`);
    if (labels === 2) return this.byHost.get(q + this.svcSuffix);
    if (labels === 1 && clientNamespace) return this.byHost.get(`${q}.${clientNamespace.toLowerCase()}${this.svcSuffix}`);
    return undefined;
  }
}

function pick(candidates: readonly Candidate[], clientNamespace: string | undefined): Candidate {
  if (candidates.length > 1 && clientNamespace) {
    for (const c of candidates) if (c.namespace === clientNamespace) return c;
  }
  return candidates[0] as Candidate;
}

function trimDot(s: string): string {
  return s.endsWith(".") ? s.slice(0, -1) : s;
}

function countLabels(q: string): number {
  let n = 1;
  for (let i = q.indexOf("."); i >= 0; i = q.indexOf(".", i + 1)) n++;
  return n;
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
