/**
 * The demo's walk-through: the seed article's story told with real traffic. Each step says what
 * it does and what should happen; `runWalkthrough` carries the steps out against a running demo
 * mesh and reports every step that misbehaved (what `mesh demo --check` exits non-zero on).
 */
import { ALLOW_SLEEP_YAML, REVIEWS_ROUTE_YAML } from "./manifests.ts";
import { DEMO, type DemoMesh } from "./demo-mesh.ts";
import { socksGet, type GetOutcome } from "./socks-get.ts";

/** A destination of the demo, by its service name (both listen on port 9080). */
export type Target = "productpage" | "reviews";

export type Step =
  | {
      readonly kind: "request";
      readonly from: "sleep" | "notsleep";
      readonly to?: Target;
      readonly headers?: Readonly<Record<string, string>>;
      readonly expect: "allowed" | "refused";
      /** For allowed requests: text the response body must contain. */
      readonly bodyContains?: string;
      readonly why: string;
    }
  | { readonly kind: "apply" | "remove"; readonly what: string; readonly yaml: string }
  /** `requests` requests from sleep to reviews; the share answered by each version must fall in its range (percent). */
  | { readonly kind: "split"; readonly requests: number; readonly shares: Readonly<Record<string, readonly [number, number]>>; readonly why: string }
  | { readonly kind: "access-log"; readonly node: string; readonly mustContain: readonly string[]; readonly why: string };

const SLEEP_ID = "spiffe://cluster.local/ns/bookinfo/sa/sleep";
const PRODUCTPAGE_ID = "spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage";
const REVIEWS_ID = "spiffe://cluster.local/ns/bookinfo/sa/bookinfo-reviews";

/** Up to and including the policy: what the interactive demo runs before handing over. */
export const INTRO_STEPS: readonly Step[] = [
  { kind: "request", from: "sleep", expect: "allowed", why: "no policy yet: any mesh workload may connect" },
  { kind: "access-log", node: "node-2", mustContain: ["direction=inbound", `src.identity=${SLEEP_ID}`, `dst.identity=${PRODUCTPAGE_ID}`], why: "node-2's ztunnel saw sleep's verified SPIFFE identity (mutual TLS between the nodes)" },
  { kind: "request", from: "notsleep", expect: "allowed", why: "no policy yet" },
  { kind: "apply", what: "AuthorizationPolicy bookinfo/productpage-viewer: ALLOW only principal cluster.local/ns/bookinfo/sa/sleep", yaml: ALLOW_SLEEP_YAML },
  { kind: "request", from: "sleep", expect: "allowed", why: "sleep is the allowed principal" },
  { kind: "request", from: "notsleep", expect: "refused", why: "node-2's ztunnel refuses notsleep at L4 (HBONE 401 → SOCKS5 'not allowed')" },
];

/** The second chapter: L7 through the waypoint that reviews uses. */
export const WAYPOINT_STEPS: readonly Step[] = [
  { kind: "request", from: "sleep", to: "reviews", expect: "allowed", bodyContains: "reviews-v", why: "reviews uses a waypoint: sleep → ztunnel → waypoint → ztunnel → reviews, carried per HTTP request" },
  { kind: "access-log", node: "waypoint", mustContain: ["request complete", `src.identity=${SLEEP_ID}`, `dst.identity=${REVIEWS_ID}`], why: "the waypoint saw sleep's identity and chose a reviews endpoint for the request" },
  { kind: "apply", what: "HTTPRoute bookinfo/reviews: end-user jason → reviews-v2, everyone else 80/10/10 over v1/v2/v3 (and a Service per version)", yaml: REVIEWS_ROUTE_YAML },
  { kind: "request", from: "sleep", to: "reviews", headers: { "end-user": "jason" }, expect: "allowed", bodyContains: "reviews-v2", why: "the route's header match sends jason to v2" },
  // 400 requests: each share's standard deviation is at most 2 points, so these ranges hold by 4σ or more.
  { kind: "split", requests: 400, shares: { "reviews-v1": [70, 90], "reviews-v2": [3, 17], "reviews-v3": [3, 17] }, why: "the waypoint's router draws each request's backend by weight" },
];

export const CHECK_STEPS: readonly Step[] = [
  ...INTRO_STEPS,
  { kind: "remove", what: "AuthorizationPolicy bookinfo/productpage-viewer", yaml: ALLOW_SLEEP_YAML },
  { kind: "request", from: "notsleep", expect: "allowed", why: "with the policy gone, access is back without restarting anything" },
  ...WAYPOINT_STEPS,
];

export interface StepReport {
  readonly step: Step;
  readonly ok: boolean;
  readonly detail: string;
}

function describe(o: GetOutcome): string {
  if (o.kind === "response") return `HTTP ${o.status}: ${o.body.trim()}`;
  if (o.kind === "refused") return `refused (SOCKS5 reply ${o.socksReply})`;
  return `failed: ${o.error}`;
}

export function curlCommand(from: string, to: Target = "productpage", headers: Readonly<Record<string, string>> = {}): string {
  const h = Object.entries(headers).map(([k, v]) => ` -H '${k}: ${v}'`).join("");
  return `curl --interface ${DEMO.workloads[from]} --socks5-hostname ${DEMO.nodes["node-1"]}:${DEMO.socksPort}${h} http://${to}.bookinfo:${DEMO.productpagePort}/`;
}

export async function runStep(mesh: DemoMesh, step: Step, accessLog: (node: string) => readonly string[]): Promise<StepReport> {
  switch (step.kind) {
    case "apply":
      await mesh.apply(step.yaml);
      return { step, ok: true, detail: `applied ${step.what}` };
    case "remove":
      await mesh.remove(step.yaml);
      return { step, ok: true, detail: `deleted ${step.what}` };
    case "access-log": {
      const deadline = Date.now() + 3000;
      for (;;) {
        const line = accessLog(step.node).find((l) => step.mustContain.every((s) => l.includes(s)));
        if (line) return { step, ok: true, detail: line };
        if (Date.now() > deadline) return { step, ok: false, detail: `no access-log line on ${step.node} with ${step.mustContain.join(" ")}` };
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    case "split": {
      const counts: Record<string, number> = {};
      for (let i = 0; i < step.requests; i++) {
        const o = await socksGet({ from: DEMO.workloads.sleep as string, socks: { host: DEMO.nodes["node-1"] as string, port: DEMO.socksPort }, host: "reviews.bookinfo", port: DEMO.productpagePort, path: `/split/${i}` });
        const version = o.kind === "response" && o.status === 200 ? (/^reviews-v\d+/.exec(o.body)?.[0] ?? "other") : describe(o);
        counts[version] = (counts[version] ?? 0) + 1;
      }
      const pct = (n: number | undefined) => Math.round(((n ?? 0) * 1000) / step.requests) / 10;
      const detail = Object.entries(counts)
        .sort()
        .map(([v, n]) => `${v} ${pct(n)}%`)
        .join(", ");
      const ok = Object.keys(counts).every((v) => v in step.shares) && Object.entries(step.shares).every(([v, [lo, hi]]) => pct(counts[v]) >= lo && pct(counts[v]) <= hi);
      return { step, ok, detail: `${step.requests} requests: ${detail}` };
    }
    case "request": {
      // A policy change reaches the ztunnels within milliseconds; allow a few tries for it.
      let outcome: GetOutcome = { kind: "failed", error: "not tried" };
      for (let attempt = 0; attempt < 20; attempt++) {
        outcome = await socksGet({ from: DEMO.workloads[step.from] as string, socks: { host: DEMO.nodes["node-1"] as string, port: DEMO.socksPort }, host: `${step.to ?? "productpage"}.bookinfo`, port: DEMO.productpagePort, ...(step.headers ? { headers: step.headers } : {}) });
        const allowed = outcome.kind === "response" && outcome.status === 200 && (step.bodyContains === undefined || outcome.body.includes(step.bodyContains));
        const refused = outcome.kind === "refused" && outcome.socksReply === 2;
        if ((step.expect === "allowed" && allowed) || (step.expect === "refused" && refused)) return { step, ok: true, detail: describe(outcome) };
        await new Promise((r) => setTimeout(r, 100));
      }
      return { step, ok: false, detail: `expected ${step.expect}, got ${describe(outcome)}` };
    }
  }
}

export function stepTitle(step: Step): string {
  if (step.kind === "request") return `${step.from} → ${step.to ?? "productpage"}${step.headers ? ` with ${Object.entries(step.headers).map(([k, v]) => `${k}: ${v}`).join(", ")}` : ""} (expect ${step.expect}${step.bodyContains ? ` from ${step.bodyContains}` : ""}: ${step.why})`;
  if (step.kind === "access-log") return `access log on ${step.node}: ${step.why}`;
  if (step.kind === "split") return `sleep → reviews ${step.requests} times (expect ${Object.entries(step.shares).map(([v, [lo, hi]]) => `${v} ${lo}-${hi}%`).join(", ")}: ${step.why})`;
  return `${step.kind === "apply" ? "apply" : "delete"} ${step.what}`;
}
