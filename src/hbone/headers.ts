/**
 * The HBONE CONNECT request, both halves: the client builds it, the server parses it (a trust
 * boundary: anything a peer sends is checked, and every refusal is a MeshError the server turns
 * into 400). HBONE is classic HTTP/2 CONNECT: `:method CONNECT` and `:authority <ip>:<port>`, no
 * `:scheme`, `:path` or `:protocol`. Request metadata: `forwarded: for="<ip:port>"` (RFC 7239,
 * the original source), `baggage` (W3C, workload metadata) and `traceparent` (W3C). Pure.
 */
import { MeshError } from "../errors/mesh-error.ts";
import { formatEndpoint, parseEndpoint, type Endpoint } from "../net/endpoint.ts";


export interface ConnectRequest {
  /** Where the tunnel goes: the :authority, canonical. */
  readonly target: Endpoint;
  /** The original client, from `forwarded: for=`; absent when the header is. */
  readonly forwardedFor?: Endpoint;
  readonly traceparent?: string;
  readonly baggage?: Readonly<Record<string, string>>;
}

export type RequestHeaders = Readonly<Record<string, string | string[] | undefined>>;

const MAX_HEADER_VALUE = 4096;
const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
const BAGGAGE_KEY = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/;

function single(headers: RequestHeaders, name: string): string | undefined {
  const v = headers[name];
  if (v === undefined) return undefined;
  if (Array.isArray(v)) throw new MeshError("invalid_argument", `header ${name} given ${v.length} times`);
  if (v.length > MAX_HEADER_VALUE) throw new MeshError("invalid_argument", `header ${name} longer than ${MAX_HEADER_VALUE} bytes`);
  return v;
}

function parseForwarded(value: string): Endpoint {
  // The first element's for= parameter: for="1.2.3.4:5" or for="[::1]:5".
  const first = value.split(",")[0] as string;
  for (const pair of first.split(";")) {
    const eq = pair.indexOf("=");
    if (eq < 0 || pair.slice(0, eq).trim().toLowerCase() !== "for") continue;
    let v = pair.slice(eq + 1).trim();
    if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1);
    const e = parseEndpoint(v);
    if (!e) throw new MeshError("invalid_argument", `forwarded: for= is not an address and port: ${JSON.stringify(v.slice(0, 100))}`);
    return e;
  }
  throw new MeshError("invalid_argument", "forwarded header without for=");
}

function parseBaggage(value: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const member of value.split(",")) {
    const item = (member.split(";")[0] as string).trim();
    if (item === "") continue;
    const eq = item.indexOf("=");
    if (eq <= 0) throw new MeshError("invalid_argument", "baggage member without key=value");
    const key = item.slice(0, eq).trim();
    if (!BAGGAGE_KEY.test(key)) throw new MeshError("invalid_argument", `baggage key ${JSON.stringify(key.slice(0, 64))} is not a token`);
    let v: string;
    try {
      v = decodeURIComponent(item.slice(eq + 1).trim());
    } catch {
      throw new MeshError("invalid_argument", `baggage value of ${key} is not percent-encoded text`);
    }
    out[key] = v;
  }
  return out;
}

/** Check a CONNECT request's headers; throws MeshError("invalid_argument") saying what is wrong. */
export function parseConnectRequest(headers: RequestHeaders): ConnectRequest {
  const method = single(headers, ":method");
  if (method !== "CONNECT") throw new MeshError("invalid_argument", `method ${JSON.stringify(method ?? "")}: HBONE takes only CONNECT`);
  for (const pseudo of [":scheme", ":path", ":protocol"]) {
    if (headers[pseudo] !== undefined) throw new MeshError("invalid_argument", `${pseudo} is not allowed on a classic CONNECT`);
  }
  const authority = single(headers, ":authority");
  if (authority === undefined) throw new MeshError("invalid_argument", "CONNECT without :authority");
  const target = parseEndpoint(authority);
  if (!target) throw new MeshError("invalid_argument", `:authority ${JSON.stringify(authority.slice(0, 100))} is not <ip>:<port>`);
  const forwarded = single(headers, "forwarded");
  const traceparent = single(headers, "traceparent");
  const baggage = single(headers, "baggage");
  return {
    target,
    ...(forwarded !== undefined ? { forwardedFor: parseForwarded(forwarded) } : {}),
    // A malformed traceparent is dropped, not refused: tracing must never break traffic.
    ...(traceparent !== undefined && TRACEPARENT.test(traceparent) ? { traceparent } : {}),
    ...(baggage !== undefined ? { baggage: parseBaggage(baggage) } : {}),
  };
}

export interface ConnectRequestInput {
  readonly target: Endpoint;
  readonly source: Endpoint;
  readonly baggage: Readonly<Record<string, string>>;
  readonly traceparent: string;
}

/** The request headers for node:http2's `session.request`. */
export function connectHeaders(input: ConnectRequestInput): Record<string, string> {
  return {
    ":method": "CONNECT",
    ":authority": formatEndpoint(input.target),
    forwarded: `for="${formatEndpoint(input.source)}"`,
    baggage: Object.entries(input.baggage)
      .map(([k, v]) => `${k}=${encodeURIComponent(v)}`)
      .join(","),
    traceparent: input.traceparent,
  };
}

const HEX = "0123456789abcdef";
function hex(random: () => number, n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += HEX[Math.floor(random() * 16)];
  return s;
}

/** A fresh W3C traceparent (sampled); `random` is injectable for tests. */
export function newTraceparent(random: () => number = Math.random): string {
  let trace = hex(random, 32);
  if (/^0+$/.test(trace)) trace = `${trace.slice(0, 31)}1`;
  let span = hex(random, 16);
  if (/^0+$/.test(span)) span = `${span.slice(0, 15)}1`;
  return `00-${trace}-${span}-01`;
}
