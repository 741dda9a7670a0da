/**
 * The headers a waypoint sends on, both ways (pure). Hop-by-hop fields (RFC 9110 §7.6.1:
 * Connection and every field it names, plus Keep-Alive, Proxy-Connection, TE, Transfer-Encoding
 * and Upgrade) stay on their hop. Requests gain what a proxy adds as Envoy does:
 * `x-forwarded-for` (the client appended), `x-forwarded-proto`, an `x-request-id` when absent,
 * and a W3C `traceparent` with this hop's span (the trace kept, a new parent id).
 *
 * Headers are node:http's raw form: [name, value, name, value, …], names as received.
 */

const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "te", "transfer-encoding", "upgrade"]);
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** Names listed in Connection headers, lowercased. */
function connectionTokens(raw: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (let i = 0; i < raw.length; i += 2) {
    if ((raw[i] as string).toLowerCase() !== "connection") continue;
    for (const t of (raw[i + 1] as string).split(",")) {
      const name = t.trim().toLowerCase();
      if (name) out.add(name);
    }
  }
  return out;
}

/** Raw headers without the hop-by-hop ones, as [name, value] pairs. */
export function endToEnd(raw: readonly string[]): Array<[string, string]> {
  const listed = connectionTokens(raw);
  const out: Array<[string, string]> = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || listed.has(lower)) continue;
    out.push([name, raw[i + 1] as string]);
  }
  return out;
}

export interface ForwardFacts {
  /** The original client's address (from the tunnel). */
  readonly clientAddress: string;
  /** Random source for ids (injectable for tests). */
  readonly randomHex: (bytes: number) => string;
}

const uuid = (hex: string) => `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${((parseInt(hex[16] as string, 16) & 3) | 8).toString(16)}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;

/**
 * Request headers for the upstream: end-to-end fields, then the proxy's own. Returns the headers
 * and the request id and traceparent they carry (for the access log).
 */
export function upstreamRequestHeaders(raw: readonly string[], facts: ForwardFacts): { headers: Array<[string, string]>; requestId: string; traceparent: string; forwardedFor: string } {
  const headers: Array<[string, string]> = [];
  let xff: string | undefined;
  let requestId: string | undefined;
  let parentTrace: string | undefined;
  for (const [name, value] of endToEnd(raw)) {
    const lower = name.toLowerCase();
    if (lower === "x-forwarded-for") xff = xff === undefined ? value : `${xff}, ${value}`;
    else if (lower === "x-forwarded-proto") continue;
    else if (lower === "x-request-id" && requestId === undefined && value.length > 0 && value.length <= 256) requestId = value;
    else if (lower === "traceparent" && parentTrace === undefined) parentTrace = value.trim().toLowerCase();
    else if (lower !== "x-request-id" && lower !== "traceparent") headers.push([name, value]);
  }
  const forwardedFor = xff === undefined ? facts.clientAddress : `${xff}, ${facts.clientAddress}`;
  headers.push(["x-forwarded-for", forwardedFor]);
  headers.push(["x-forwarded-proto", "http"]);
  requestId ??= uuid(facts.randomHex(16));
  headers.push(["x-request-id", requestId]);
  const m = parentTrace ? TRACEPARENT.exec(parentTrace) : null;
  const traceId = m && m[2] !== "0".repeat(32) ? (m[2] as string) : facts.randomHex(16);
  const flags = m ? (m[4] as string) : "01";
  const traceparent = `00-${traceId}-${facts.randomHex(8)}-${flags}`;
  headers.push(["traceparent", traceparent]);
  return { headers, requestId, traceparent, forwardedFor };
}

/** Header pairs as the object form node:http and node:http2 writers take (names lowercased, repeated names as arrays). */
export function headerObject(pairs: Iterable<readonly [string, string]>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of pairs) {
    const key = name.toLowerCase();
    const had = out[key];
    out[key] = had === undefined ? value : Array.isArray(had) ? [...had, value] : [had, value];
  }
  return out;
}

/** node:http2's header object as raw [name, value, …] without pseudo-headers (the form the rules above read). */
export function rawFromObject(headers: Readonly<Record<string, string | readonly string[] | number | undefined>>): string[] {
  const raw: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(":") || value === undefined) continue;
    if (Array.isArray(value)) for (const v of value as readonly string[]) raw.push(name, v);
    else raw.push(name, String(value));
  }
  return raw;
}
