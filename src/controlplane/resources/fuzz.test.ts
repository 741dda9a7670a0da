/**
 * Property tests at the trust boundary: documents anyone with a token can send. Seeded, so a
 * failure names the seed and the case that reproduces it (`MESH_FUZZ_SEED=<seed> bun test …`);
 * `MESH_FUZZ_SCALE=20` runs twenty times as many cases, for a long local run.
 *
 * - parseDocuments returns, or throws a MeshError with code invalid_argument — nothing else.
 * - validateDocument never throws; it returns ok, or a non-empty list of issues each with a path
 *   string and a non-empty message.
 * - An accepted resource survives a JSON round trip (what the store does) and validates again to
 *   the same resource: validation is idempotent on what it stores.
 * - Every input is handled in bounded time.
 * - Every document counts against the document limit, empty or not: a text of N documents (any
 *   mix of empty ones, comments, `...` ends and small mappings) is refused exactly when N is over
 *   the limit, and never yields more than the limit.
 */
import { describe, expect, test } from "bun:test";
import { stringify } from "yaml";
import { MeshError } from "../../errors/mesh-error.ts";
import { LIMITS, parseDocuments } from "./parse.ts";
import { KINDS } from "./registry.ts";
import { MAX_ISSUES, validateDocument } from "./validate.ts";
import { mulberry32, SeededGen } from "../../../test/support/seeded-random.ts";

const SEED = Number(process.env.MESH_FUZZ_SEED ?? 0x6d657368);
const SCALE = Number(process.env.MESH_FUZZ_SCALE ?? 1);
const DOCUMENT_CASES = Math.round(2000 * SCALE);
const TEXT_CASES = Math.round(1000 * SCALE);
const COUNT_CASES = Math.round(60 * SCALE);
/** Generous: a slow CI machine should still be far below it; a pathological input is not. */
const MAX_MS_PER_INPUT = 500;
/**
 * Size budget of a mutated document, in nodes (a string counts one per 64 characters). Without it
 * repeated "huge array" mutations compound into hundreds of megabytes, far past what a 4 MiB text
 * (the parse limit) can produce.
 */
const MAX_NODES = 200_000;
const TEST_TIMEOUT_MS = 30_000 * SCALE;


class Gen extends SeededGen {
  unicode(len: number): string {
    let s = "";
    for (let i = 0; i < len; i++) {
      const r = this.next();
      // Mostly ASCII, then BMP (including lone surrogates and controls), then astral planes.
      const cp = r < 0.5 ? this.int(0x80) : r < 0.9 ? this.int(0x10000) : 0x10000 + this.int(0x100000);
      s += String.fromCodePoint(cp);
    }
    return s;
  }
}

const SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

/** One valid document of every kind, rich enough that mutations reach most fields. */
const SEEDS: Record<string, unknown> = {
  Namespace: { apiVersion: "v1", kind: "Namespace", metadata: { name: "bookinfo", labels: { "istio.io/dataplane-mode": "ambient", "istio.io/use-waypoint": "waypoint" } } },
  Service: {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "reviews", namespace: "bookinfo", labels: { app: "reviews" } },
    spec: { selector: { app: "reviews" }, clusterIP: "10.96.0.12", ports: [{ name: "http", port: 9080, targetPort: 9080, protocol: "TCP" }] },
  },
  WorkloadEntry: {
    apiVersion: "networking.istio.io/v1",
    kind: "WorkloadEntry",
    metadata: { name: "reviews-v1-1", namespace: "bookinfo" },
    spec: { address: "10.0.2.7", ports: { http: 9080 }, labels: { app: "reviews", version: "v1" }, serviceAccount: "bookinfo-reviews", node: "node-2", weight: 1 },
  },
  ServiceEntry: {
    apiVersion: "networking.istio.io/v1",
    kind: "ServiceEntry",
    metadata: { name: "ext", namespace: "bookinfo" },
    spec: { hosts: ["api.example.com"], addresses: ["240.0.0.1/32"], ports: [{ number: 443, name: "https", protocol: "TLS" }], resolution: "STATIC", endpoints: [{ address: "203.0.113.5" }] },
  },
  AuthorizationPolicy: {
    apiVersion: "security.istio.io/v1",
    kind: "AuthorizationPolicy",
    metadata: { name: "viewer", namespace: "bookinfo" },
    spec: {
      targetRefs: [{ kind: "Gateway", group: "gateway.networking.k8s.io", name: "waypoint" }],
      action: "ALLOW",
      rules: [
        {
          from: [{ source: { principals: ["cluster.local/ns/default/sa/sleep"], ipBlocks: ["10.0.0.0/8"] } }],
          to: [{ operation: { ports: ["9080"], methods: ["GET"], paths: ["/api/*"] } }],
          when: [{ key: "request.headers[x-user]", values: ["alice"] }],
        },
      ],
    },
  },
  PeerAuthentication: {
    apiVersion: "security.istio.io/v1",
    kind: "PeerAuthentication",
    metadata: { name: "strict", namespace: "bookinfo" },
    spec: { selector: { matchLabels: { app: "reviews" } }, mtls: { mode: "STRICT" }, portLevelMtls: { "8080": { mode: "PERMISSIVE" } } },
  },
  RequestAuthentication: {
    apiVersion: "security.istio.io/v1",
    kind: "RequestAuthentication",
    metadata: { name: "jwt", namespace: "bookinfo" },
    spec: {
      targetRefs: [{ kind: "Gateway", group: "gateway.networking.k8s.io", name: "waypoint" }],
      jwtRules: [
        {
          issuer: "testing@secure.istio.io",
          jwksUri: "https://example.com/jwks.json",
          audiences: ["bookinfo"],
          fromHeaders: [{ name: "Authorization", prefix: "Bearer " }],
          outputClaimToHeaders: [{ header: "x-jwt-sub", claim: "sub" }],
          timeout: "5s",
        },
        { issuer: "inline", jwks: '{"keys":[{"kty":"EC","crv":"P-256","x":"a","y":"b"}]}' },
      ],
    },
  },
  Gateway: {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "Gateway",
    metadata: { name: "waypoint", namespace: "bookinfo" },
    spec: {
      gatewayClassName: "istio-waypoint",
      listeners: [
        { name: "mesh", port: 15008, protocol: "HBONE", allowedRoutes: { namespaces: { from: "Selector", selector: { matchLabels: { team: "a" } } } } },
        { name: "https", port: 443, protocol: "HTTPS", hostname: "*.example.com", tls: { certificateRefs: [{ name: "cert" }] } },
      ],
      addresses: [{ value: "10.96.0.20" }],
      infrastructure: { labels: { team: "a" } },
    },
  },
  HTTPRoute: {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
    metadata: { name: "reviews", namespace: "bookinfo" },
    spec: {
      parentRefs: [{ group: "", kind: "Service", name: "reviews", port: 9080 }],
      hostnames: ["reviews.example.com"],
      rules: [
        {
          name: "jason",
          matches: [{ path: { type: "PathPrefix", value: "/api" }, headers: [{ name: "end-user", value: "jason" }], queryParams: [{ name: "v", value: "2" }], method: "GET" }],
          filters: [
            { type: "RequestHeaderModifier", requestHeaderModifier: { set: [{ name: "x-route", value: "jason" }], remove: ["x-debug"] } },
            { type: "URLRewrite", urlRewrite: { path: { type: "ReplacePrefixMatch", replacePrefixMatch: "/v2" } } },
            { type: "RequestMirror", requestMirror: { backendRef: { name: "shadow", port: 9080 }, percent: 10 } },
          ],
          backendRefs: [{ name: "reviews-v2", port: 9080 }],
          timeouts: { request: "10s", backendRequest: "2s" },
          retry: { codes: [503], attempts: 3, backoff: "100ms" },
        },
        { backendRefs: [{ name: "reviews-v1", port: 9080, weight: 90 }, { name: "reviews-v3", port: 9080, weight: 10 }] },
      ],
    },
  },
  GRPCRoute: {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "GRPCRoute",
    metadata: { name: "greeter", namespace: "grpc" },
    spec: {
      parentRefs: [{ group: "", kind: "Service", name: "greeter", port: 50051 }],
      rules: [
        {
          matches: [{ method: { service: "helloworld.Greeter", method: "SayHello" }, headers: [{ name: "x-canary", value: "true" }] }],
          filters: [{ type: "ResponseHeaderModifier", responseHeaderModifier: { add: [{ name: "x-via", value: "waypoint" }] } }],
          backendRefs: [{ name: "greeter-v2", port: 50051, weight: 1 }],
        },
      ],
    },
  },
  WasmPlugin: {
    apiVersion: "extensions.istio.io/v1alpha1",
    kind: "WasmPlugin",
    metadata: { name: "basic-auth", namespace: "bookinfo" },
    spec: {
      selector: { matchLabels: { app: "reviews" } },
      url: "oci://ghcr.io/example/basic_auth:1.0",
      sha256: SHA,
      phase: "AUTHN",
      priority: 10,
      pluginConfig: { rules: [{ prefix: "/productpage", methods: ["GET"] }], nested: { a: { b: 1.5 } } },
      vmConfig: { env: [{ name: "POD_NAME", valueFrom: "HOST" }] },
      match: [{ mode: "SERVER", ports: [{ number: 9080 }] }],
    },
  },
  FilterPlugin: {
    apiVersion: "mesh.dev/v1",
    kind: "FilterPlugin",
    metadata: { name: "quota", namespace: "bookinfo" },
    spec: { targetRefs: [{ kind: "Gateway", name: "waypoint" }], module: "/opt/mesh/plugins/quota.js", sha256: SHA, config: { limit: 100 }, phase: "AUTHZ", timeout: "50ms" },
  },
  HTTPFault: {
    apiVersion: "mesh.dev/v1",
    kind: "HTTPFault",
    metadata: { name: "flaky", namespace: "bookinfo" },
    spec: { delay: { fixedDelay: "2s", percentage: 50 }, abort: { httpStatus: 503, percentage: 10.5 } },
  },
};

// --- Mutations of JSON-like trees ---

type Path = Array<string | number>;

function isContainer(v: unknown): v is Record<string, unknown> | unknown[] {
  return typeof v === "object" && v !== null;
}

function allPaths(root: unknown): Path[] {
  const out: Path[] = [];
  const stack: Array<[unknown, Path]> = [[root, []]];
  while (stack.length > 0 && out.length < 5000) {
    const [v, p] = stack.pop() as [unknown, Path];
    out.push(p);
    if (Array.isArray(v)) v.slice(0, 50).forEach((c, i) => stack.push([c, [...p, i]]));
    else if (isContainer(v)) for (const k of Object.keys(v).slice(0, 50)) stack.push([(v as Record<string, unknown>)[k], [...p, k]]);
  }
  return out;
}

/** Size of a tree against MAX_NODES; stops counting past `cap`. */
function countNodes(root: unknown, cap: number): number {
  let n = 0;
  const stack: unknown[] = [root];
  while (stack.length > 0 && n <= cap) {
    const v = stack.pop();
    n += typeof v === "string" ? 1 + (v.length >> 6) : 1;
    if (isContainer(v)) for (const c of Object.values(v)) stack.push(c);
  }
  return n;
}

function getAt(root: unknown, path: Path): unknown {
  let v = root;
  for (const k of path) v = (v as Record<string | number, unknown>)[k];
  return v;
}

/** Replace the value at path (the root itself for []); returns the new root. */
function setAt(root: unknown, path: Path, value: unknown): unknown {
  if (path.length === 0) return value;
  const parent = getAt(root, path.slice(0, -1)) as Record<string | number, unknown>;
  Object.defineProperty(parent, path.at(-1) as string | number, { value, enumerable: true, writable: true, configurable: true });
  return root;
}

function deleteAt(root: unknown, path: Path): unknown {
  if (path.length === 0) return undefined;
  const parent = getAt(root, path.slice(0, -1));
  const key = path.at(-1) as string | number;
  if (Array.isArray(parent)) parent.splice(key as number, 1);
  else delete (parent as Record<string, unknown>)[key];
  return root;
}

const WEIRD_STRINGS = [
  "", " ", "NaN", "Infinity", "-Infinity", "1e400", "-0", "0x10", "0o17", "1_000", "null", "~", "true", "yes", "__proto__", "constructor", "toString",
  "../../etc/passwd", "/", "//", "*", "\u0000", "\u202e", "😀", "ｆｕｌｌ", "a".repeat(64), "-1", "65536", "10s", "0s", "1h30m", "99999h", "(?i)a", "[", "\\", "%2F",
  "https://", "oci://", "file:///", "10.0.0.0/33", "::1", "999.1.1.1", "istio-waypoint", "HBONE", "Service", "Gateway", "RegularExpression",
];
const WEIRD_NUMBERS = [0, -0, -1, 1, 1.5, 65535, 65536, 2 ** 31, -(2 ** 31) - 1, 2 ** 53 + 1, Number.MAX_VALUE, Number.MIN_VALUE, Number.NaN, Infinity, -Infinity, 1e-300, 1000001];

function randomValue(g: Gen, depth = 0): unknown {
  switch (g.int(depth > 3 ? 4 : 7)) {
    case 0:
      return g.chance(0.5) ? g.pick(WEIRD_STRINGS) : g.unicode(g.int(20));
    case 1:
      return g.chance(0.5) ? g.pick(WEIRD_NUMBERS) : g.int(200000) - 100000;
    case 2:
      return g.chance(0.5);
    case 3:
      return null;
    case 4:
      return Array.from({ length: g.int(4) }, () => randomValue(g, depth + 1));
    case 5: {
      const o: Record<string, unknown> = {};
      for (let i = g.int(4); i > 0; i--) o[g.chance(0.5) ? g.pick(WEIRD_STRINGS) : g.unicode(1 + g.int(8))] = randomValue(g, depth + 1);
      return o;
    }
    default:
      return g.chance(0.5) ? undefined : { name: g.pick(WEIRD_STRINGS) };
  }
}

function nest(g: Gen, value: unknown, levels: number): unknown {
  let v = value;
  for (let i = 0; i < levels; i++) v = g.chance(0.5) ? [v] : { [g.pick(["a", "spec", "rules", "matches"])]: v };
  return v;
}

/** `big`: how large the huge values get (1 for direct documents; text inputs use less, YAML is slow to write and read). */
function mutate(g: Gen, doc: unknown, big = 1): unknown {
  let root = structuredClone(doc);
  const rounds = 1 + g.int(4);
  for (let r = 0; r < rounds; r++) {
    const paths = allPaths(root);
    const path = g.pick(paths);
    const here = getAt(root, path);
    switch (g.int(11)) {
      case 0: // delete a field or element
        root = deleteAt(root, path);
        break;
      case 1: // any value at all
        root = setAt(root, path, randomValue(g));
        break;
      case 2: {
        // unknown key in an object
        const obj = isContainer(here) && !Array.isArray(here) ? here : undefined;
        if (obj) setAt(root, [...path, g.chance(0.5) ? g.pick(WEIRD_STRINGS) : g.unicode(1 + g.int(6))], randomValue(g));
        break;
      }
      case 3: // same value, another type
        root = setAt(root, path, typeof here === "number" ? String(here) : typeof here === "string" && here !== "" && !Number.isNaN(Number(here)) ? Number(here) : g.chance(0.5) ? [here] : { value: here });
        break;
      case 4: {
        // huge string, within the budget
        const huge = g.pick(["x", "é", "/", "a."]).repeat(1000 + g.int(100_000 * big));
        if (countNodes(root, MAX_NODES) + (huge.length >> 6) <= MAX_NODES) root = setAt(root, path, huge);
        break;
      }
      case 5: {
        // huge array of copies of this value, within the budget (real copies: a shared subtree
        // mutated later would change every copy at once and escape the budget)
        const room = Math.floor((MAX_NODES - countNodes(root, MAX_NODES)) / countNodes(here, MAX_NODES));
        root = setAt(root, path, Array.from({ length: Math.min(100 + g.int(5000 * big), room) }, () => structuredClone(here)));
        break;
      }
      case 6: // deep nesting
        root = setAt(root, path, nest(g, here, 10 + g.int(200 * big)));
        break;
      case 7: // numbers at the edges, negative ports
        root = setAt(root, path, typeof here === "number" ? g.pick([-here, here + 1, here * 1000, -1, 0, ...WEIRD_NUMBERS]) : g.pick(WEIRD_NUMBERS));
        break;
      case 8: // random unicode
        root = setAt(root, path, g.unicode(1 + g.int(40)));
        break;
      case 9: {
        // duplicate an array element (duplicate names, listeners, ...)
        const el: unknown = Array.isArray(here) && here.length > 0 ? g.pick(here) : undefined;
        if (el !== undefined && countNodes(root, MAX_NODES) + countNodes(el, MAX_NODES) <= MAX_NODES) (here as unknown[]).push(structuredClone(el));
        break;
      }
      default: {
        // another kind's envelope over this spec
        const other = SEEDS[g.pick(Object.keys(SEEDS))] as { apiVersion: string; kind: string };
        if (isContainer(root) && !Array.isArray(root)) Object.assign(root, { apiVersion: other.apiVersion, kind: other.kind });
      }
    }
  }
  return root;
}

// --- Text-level inputs for parseDocuments ---

const YAML_BITS = ["\n", ": ", "- ", "---\n", "...\n", "[", "]", "{", "}", ",", "&a ", "*a", "!!binary ", "!!set ", "!<tag:x> ", "%YAML 1.1\n", "%TAG ! tag:x:\n", "? ", "|\n", ">-\n", "\t", "'", '"', "#", "<<: *a\n", "kind: List\nitems: [", "\u0000", "\ufeff"];

function randomText(g: Gen): string {
  switch (g.int(6)) {
    case 0: {
      // random bytes as latin-1 characters
      let s = "";
      for (let i = g.int(300); i > 0; i--) s += String.fromCharCode(g.int(256));
      return s;
    }
    case 1: {
      // random bytes through a UTF-8 decoder (replacement characters included)
      const bytes = new Uint8Array(g.int(300)).map(() => g.int(256));
      return new TextDecoder().decode(bytes);
    }
    case 2: {
      // a mutated document as YAML, then corrupted text
      let s = stringify(mutate(g, SEEDS[g.pick(Object.keys(SEEDS))], 0.02) ?? null);
      for (let i = 1 + g.int(5); i > 0; i--) {
        const at = g.int(s.length + 1);
        s = g.chance(0.6) ? s.slice(0, at) + g.pick(YAML_BITS) + s.slice(at) : s.slice(0, at) + s.slice(at + g.int(20));
      }
      return s;
    }
    case 3: {
      // several documents, duplicated lines (duplicate keys), truncation
      const docs = Array.from({ length: 1 + g.int(3) }, () => stringify(SEEDS[g.pick(Object.keys(SEEDS))]));
      let s = docs.join("---\n");
      const lines = s.split("\n");
      if (g.chance(0.5)) lines.splice(g.int(lines.length), 0, g.pick(lines));
      s = lines.join("\n");
      return g.chance(0.3) ? s.slice(0, g.int(s.length)) : s;
    }
    case 4: {
      // structural extremes
      const n = 1 + g.int(1500);
      return g.pick([
        "[".repeat(n) + "]".repeat(n),
        "a: ".repeat(Math.min(n, 500)) + "x",
        "- ".repeat(Math.min(n, 500)) + "x",
        `a: &a [${"x,".repeat(n)}x]\nb: [${"*a,".repeat(Math.min(n, 200))}*a]\n`,
        `k: "${"\\u0041".repeat(n)}"`,
        `${"x".repeat(n * 50)}: 1`,
        `%YAML 1.1\n---\nd: 2001-12-14t21:59:43.10-05:00\nb: !!binary aGVsbG8=\ns: !!set {a, b}\no: !!omap [{a: 1}]\n`,
      ]);
    }
    default: {
      // YAML bits strung together
      let s = "";
      for (let i = g.int(60); i > 0; i--) s += g.chance(0.7) ? g.pick(YAML_BITS) : g.unicode(g.int(6));
      return s;
    }
  }
}

// --- Properties ---

function short(v: unknown): string {
  let s: string;
  try {
    s = typeof v === "string" ? JSON.stringify(v) : JSON.stringify(v, (_k, x: unknown) => (typeof x === "number" && !Number.isFinite(x) ? String(x) : x));
  } catch {
    s = String(v);
  }
  return s === undefined ? "undefined" : s.length > 600 ? `${s.slice(0, 600)}… (${s.length} chars)` : s;
}

interface Tally {
  ok: Map<string, number>;
  refused: Map<string, number>;
  slowest: number;
}

/** Checks the validateDocument properties on one input; returns a description of the violation, or null. */
function checkValidate(doc: unknown, tally: Tally): string | null {
  const started = performance.now();
  let r: ReturnType<typeof validateDocument>;
  try {
    r = validateDocument(doc);
  } catch (err) {
    return `validateDocument threw: ${(err as Error)?.stack ?? String(err)}`;
  }
  const ms = performance.now() - started;
  tally.slowest = Math.max(tally.slowest, ms);
  if (ms > MAX_MS_PER_INPUT) return `validateDocument took ${ms.toFixed(0)} ms`;
  const kind = isContainer(doc) && typeof (doc as { kind?: unknown }).kind === "string" ? ((doc as { kind: string }).kind) : "(none)";
  if (!r.ok) {
    tally.refused.set(kind, (tally.refused.get(kind) ?? 0) + 1);
    if (r.issues.length === 0) return "refused with no issues";
    const bad = r.issues.find((i) => typeof i.path !== "string" || typeof i.message !== "string" || i.message.length === 0);
    return bad ? `malformed issue ${short(bad)}` : null;
  }
  tally.ok.set(kind, (tally.ok.get(kind) ?? 0) + 1);
  let stored: unknown;
  try {
    stored = JSON.parse(JSON.stringify(r.resource));
  } catch (err) {
    return `accepted resource does not survive JSON: ${(err as Error).message}`;
  }
  let again: ReturnType<typeof validateDocument>;
  try {
    again = validateDocument(stored);
  } catch (err) {
    return `re-validating the stored form threw: ${(err as Error)?.stack ?? String(err)}`;
  }
  if (!again.ok) return `the stored form is refused: ${again.issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`;
  if (JSON.stringify(again.resource) !== JSON.stringify(stored)) return `validation is not idempotent: ${short(stored)} became ${short(again.resource)}`;
  return null;
}

function checkParse(text: string, tally: Tally): string | null {
  const started = performance.now();
  let docs: unknown[];
  try {
    docs = parseDocuments(text, "fuzz");
  } catch (err) {
    if (err instanceof MeshError && err.code === "invalid_argument") return null;
    return `parseDocuments threw something other than MeshError(invalid_argument): ${(err as Error)?.stack ?? String(err)}`;
  }
  const ms = performance.now() - started;
  tally.slowest = Math.max(tally.slowest, ms);
  if (ms > MAX_MS_PER_INPUT) return `parseDocuments took ${ms.toFixed(0)} ms`;
  if (!Array.isArray(docs)) return "parseDocuments returned something other than an array";
  for (const doc of docs) {
    const problem = checkValidate(doc, tally);
    if (problem) return `document ${short(doc)}: ${problem}`;
  }
  return null;
}

/** A text of exactly `n` YAML documents, each opened by `---`, most of them empty in one way or another. */
function documentsText(g: Gen, n: number): string {
  const bodies = ["", "\n", "# nothing here\n", "...\n", "~\n", "null\n", "a: 1\n", "kind: List\nitems: []\n", "- x\n"];
  let s = "";
  for (let i = 0; i < n; i++) s += `---${g.chance(0.2) ? " # c" : ""}\n${g.pick(bodies)}`;
  return s;
}

describe("fuzz: resource validation at the trust boundary", () => {
  test("every kind has a seed document, and every seed is valid", () => {
    expect(Object.keys(SEEDS).sort()).toEqual(KINDS.map((k) => k.kind).sort());
    for (const doc of Object.values(SEEDS)) {
      const r = validateDocument(doc);
      if (!r.ok) throw new Error(`${r.ref}: ${r.issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`);
    }
  });

  test("a document with 800k bad entries is refused with a capped issue list, not a stack overflow", () => {
    // 800k entries is what a 4 MiB text can hold; spreading that many issues into push(...) throws.
    const r = validateDocument({ apiVersion: "networking.istio.io/v1", kind: "ServiceEntry", metadata: { name: "big" }, spec: { hosts: ["a.example.com"], addresses: new Array(800_000).fill("x") } });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.issues.length).toBeLessThanOrEqual(MAX_ISSUES + 1);
      expect(r.issues[0]).toEqual({ path: "spec.addresses[0]", message: '"x" is not an IP address or CIDR block' });
      // Per-entry checks summarize what they leave out; validateDocument caps what is left.
      expect(r.issues.some((i) => /and \d+ more/.test(i.message))).toBe(true);
    }
  });

  test(`validateDocument on ${DOCUMENT_CASES} mutated documents (seed 0x${SEED.toString(16)})`, () => {
    const g = new Gen(mulberry32(SEED));
    const tally: Tally = { ok: new Map(), refused: new Map(), slowest: 0 };
    const kinds = Object.keys(SEEDS);
    for (let i = 0; i < DOCUMENT_CASES; i++) {
      const doc = mutate(g, SEEDS[kinds[i % kinds.length] as string]);
      const problem = checkValidate(doc, tally);
      if (problem) throw new Error(`seed 0x${SEED.toString(16)}, case ${i}: ${problem}\ninput: ${short(doc)}`);
    }
    // The mutations must reach both sides of every kind's validation, or they test little.
    for (const kind of kinds) {
      expect({ kind, refused: (tally.refused.get(kind) ?? 0) > 0 }).toEqual({ kind, refused: true });
      expect({ kind, accepted: (tally.ok.get(kind) ?? 0) > 0 }).toEqual({ kind, accepted: true });
    }
  }, TEST_TIMEOUT_MS);

  test(`parseDocuments and validateDocument on ${TEXT_CASES} random and malformed texts (seed 0x${SEED.toString(16)})`, () => {
    const g = new Gen(mulberry32(SEED ^ 0x9e3779b9));
    const tally: Tally = { ok: new Map(), refused: new Map(), slowest: 0 };
    for (let i = 0; i < TEXT_CASES; i++) {
      const text = randomText(g);
      const problem = checkParse(text, tally);
      if (problem) throw new Error(`seed 0x${SEED.toString(16)}, text case ${i}: ${problem}\ninput: ${short(text)}`);
    }
  }, TEST_TIMEOUT_MS);

  test(`every document counts against the limit, empty or not (${COUNT_CASES} texts, seed 0x${SEED.toString(16)})`, () => {
    const g = new Gen(mulberry32(SEED ^ 0x2d2d2d));
    for (let i = 0; i < COUNT_CASES; i++) {
      // Around the limit, and past it (the 4 MiB body of separators is validate.test.ts's and test/attack's).
      const n = g.chance(0.5) ? LIMITS.maxDocuments - 5 + g.int(10) : LIMITS.maxDocuments + 1 + g.int(20_000);
      const text = documentsText(g, n);
      if (text.length > LIMITS.maxBytes) continue;
      const started = performance.now();
      let outcome: string;
      try {
        const docs = parseDocuments(text, "fuzz");
        outcome = docs.length <= LIMITS.maxDocuments ? "accepted" : `accepted ${docs.length} documents`;
      } catch (err) {
        outcome = err instanceof MeshError && err.code === "invalid_argument" && /more than 1000 documents/.test(err.message) ? "refused" : `threw ${String(err)}`;
      }
      const ms = performance.now() - started;
      const want = n > LIMITS.maxDocuments ? "refused" : "accepted";
      if (outcome !== want || ms > MAX_MS_PER_INPUT) throw new Error(`seed 0x${SEED.toString(16)}, count case ${i}: ${n} documents: ${outcome} in ${ms.toFixed(0)} ms, want ${want}\ninput: ${short(text)}`);
    }
  }, TEST_TIMEOUT_MS);
});
