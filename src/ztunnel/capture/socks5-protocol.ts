/**
 * The SOCKS5 handshake (RFC 1928) as pure, incremental parsers of what the client sends, and
 * builders of what the server answers. No I/O: `socks5.ts` drives these against a socket.
 *
 * Invariants (checked by the table and property tests beside this file):
 * - A parser is given every byte received so far for its message, starting at the message's first
 *   byte. It returns "more", an error, or a value with `consumed` ≤ the bytes given — and it never
 *   throws. Bytes after `consumed` belong to the next message (or to the data stream).
 * - Monotonic: once a prefix yields an error or a value, every longer input yields the same one, so
 *   a message may arrive split at any byte boundary. Each check looks only at bytes before the field
 *   it decides, in wire order, so errors are reported as early as the bytes allow.
 * - Bounded: "more" is never returned for more than MAX_GREETING_BYTES (257) of greeting or
 *   MAX_REQUEST_BYTES (262) of request; those are the largest messages the protocol can express.
 * - Only what mesh serves: method NO AUTHENTICATION (0x00) and command CONNECT. IPv4 and IPv6
 *   destinations are canonical text (dotted quad, RFC 5952); an IPv4-mapped IPv6 address is
 *   reported as its IPv4 address, and a domain name that is an IP literal as that IP.
 * - A domain name is a host name: 1–255 bytes of letters, digits, '-', '_' and '.', labels of 1–63
 *   bytes, an optional trailing dot, lowered to lower case. A numeric-looking last label ("127.1",
 *   "0x7f.1", "2130706433") is refused, so a resolver's inet_aton leniency cannot turn a "name" into
 *   an address that policy never saw.
 * - Builders throw only MeshError("invalid_argument"), for arguments the protocol cannot carry.
 */
import { MeshError } from "../../errors/mesh-error.ts";
import { formatIp, parseIp } from "../../net/ip.ts";

export const SOCKS5_VERSION = 0x05;
export const METHOD_NO_AUTH = 0x00;
export const METHOD_NO_ACCEPTABLE = 0xff;
export const COMMAND_CONNECT = 0x01;
export const ATYP_IPV4 = 0x01;
export const ATYP_DOMAIN = 0x03;
export const ATYP_IPV6 = 0x04;

/** REP codes of the final reply (RFC 1928 §6). */
export const Socks5Reply = {
  succeeded: 0x00,
  generalFailure: 0x01,
  notAllowed: 0x02,
  networkUnreachable: 0x03,
  hostUnreachable: 0x04,
  connectionRefused: 0x05,
  ttlExpired: 0x06,
  commandNotSupported: 0x07,
  addressTypeNotSupported: 0x08,
} as const;

/** VER NMETHODS METHODS[255]. */
export const MAX_GREETING_BYTES = 2 + 255;
/** VER CMD RSV ATYP LEN NAME[255] PORT[2]. */
export const MAX_REQUEST_BYTES = 4 + 1 + 255 + 2;

export type Socks5Destination =
  | { readonly kind: "ip"; readonly address: string; readonly port: number }
  | { readonly kind: "name"; readonly name: string; readonly port: number };

/** A bound address for the final reply: an IP address as text and a port. */
export interface Socks5BoundAddress {
  readonly address: string;
  readonly port: number;
}

export interface Socks5Greeting {
  /** The methods the client offered, in its order; always includes METHOD_NO_AUTH when parsed. */
  readonly methods: readonly number[];
}

export interface Socks5Request {
  readonly destination: Socks5Destination;
}

export interface Socks5NeedMore {
  readonly kind: "more";
}

export interface Socks5Parsed<T> {
  readonly kind: "ok";
  readonly value: T;
  /** Bytes of the input that made up this message; the rest belongs to what follows it. */
  readonly consumed: number;
}

export interface Socks5ProtocolError {
  readonly kind: "error";
  /**
   * What to answer before closing: in the greeting, a METHOD byte (0xFF, no acceptable method); in
   * the request, a REP code. null: close without answering (the client does not speak SOCKS5).
   */
  readonly reply: number | null;
  readonly message: string;
}

export type Socks5ParseResult<T> = Socks5NeedMore | Socks5Parsed<T> | Socks5ProtocolError;

const MORE: Socks5NeedMore = Object.freeze({ kind: "more" });

function fail(reply: number | null, message: string): Socks5ProtocolError {
  return { kind: "error", reply, message };
}

/** The method-selection message: VER NMETHODS METHODS. We serve only NO AUTH. */
export function parseGreeting(bytes: Uint8Array): Socks5ParseResult<Socks5Greeting> {
  if (bytes.length < 1) return MORE;
  if (bytes[0] !== SOCKS5_VERSION) return fail(null, `not a SOCKS5 greeting: version byte 0x${hex(bytes[0])}`);
  if (bytes.length < 2) return MORE;
  const count = bytes[1] as number;
  const end = 2 + count;
  if (bytes.length < end) return MORE;
  const methods = [...bytes.subarray(2, end)];
  if (!methods.includes(METHOD_NO_AUTH)) {
    const offered = methods.length === 0 ? "none" : methods.map((m) => `0x${hex(m)}`).join(", ");
    return fail(METHOD_NO_ACCEPTABLE, `no acceptable authentication method: only NO AUTH (0x00) is served, client offered ${offered}`);
  }
  return { kind: "ok", value: { methods }, consumed: end };
}

/** The request: VER CMD RSV ATYP DST.ADDR DST.PORT. We serve only CONNECT. */
export function parseRequest(bytes: Uint8Array): Socks5ParseResult<Socks5Request> {
  if (bytes.length < 1) return MORE;
  if (bytes[0] !== SOCKS5_VERSION) return fail(Socks5Reply.generalFailure, `SOCKS5 request with version byte 0x${hex(bytes[0])}`);
  if (bytes.length < 2) return MORE;
  if (bytes[1] !== COMMAND_CONNECT) return fail(Socks5Reply.commandNotSupported, `SOCKS5 command 0x${hex(bytes[1])} is not supported: only CONNECT (0x01)`);
  if (bytes.length < 3) return MORE;
  if (bytes[2] !== 0x00) return fail(Socks5Reply.generalFailure, `SOCKS5 request with reserved byte 0x${hex(bytes[2])}, not 0x00`);
  if (bytes.length < 4) return MORE;
  const atyp = bytes[3] as number;
  let addressEnd: number;
  let host: { kind: "ip"; address: string } | { kind: "name"; name: string };
  if (atyp === ATYP_IPV4 || atyp === ATYP_IPV6) {
    addressEnd = 4 + (atyp === ATYP_IPV4 ? 4 : 16);
    if (bytes.length < addressEnd) return MORE;
    host = { kind: "ip", address: ipText(bytes.subarray(4, addressEnd)) };
  } else if (atyp === ATYP_DOMAIN) {
    if (bytes.length < 5) return MORE;
    const length = bytes[4] as number;
    if (length === 0) return fail(Socks5Reply.generalFailure, "SOCKS5 request with an empty domain name");
    addressEnd = 5 + length;
    if (bytes.length < addressEnd) return MORE;
    const checked = checkDomainName(bytes.subarray(5, addressEnd));
    if (typeof checked !== "string") return fail(Socks5Reply.generalFailure, checked.error);
    const literal = ipLiteral(checked);
    host = literal === null ? { kind: "name", name: checked } : { kind: "ip", address: literal };
  } else {
    return fail(Socks5Reply.addressTypeNotSupported, `SOCKS5 address type 0x${hex(atyp)} is not supported: only IPv4 (0x01), domain name (0x03), IPv6 (0x04)`);
  }
  const end = addressEnd + 2;
  if (bytes.length < end) return MORE;
  const port = ((bytes[addressEnd] as number) << 8) | (bytes[addressEnd + 1] as number);
  if (port === 0) return fail(Socks5Reply.generalFailure, "SOCKS5 request for port 0");
  const destination: Socks5Destination = host.kind === "ip" ? { kind: "ip", address: host.address, port } : { kind: "name", name: host.name, port };
  return { kind: "ok", value: { destination }, consumed: end };
}

/** The server's method selection: VER METHOD. */
export function buildMethodSelection(method: number): Uint8Array {
  checkByte(method, "method");
  return Uint8Array.of(SOCKS5_VERSION, method);
}

/**
 * The final reply: VER REP RSV ATYP BND.ADDR BND.PORT. Without `bound`, 0.0.0.0:0 (what clients
 * expect when the server does not say). `bound.address` must be an IP address.
 */
export function buildReply(code: number, bound?: Socks5BoundAddress): Uint8Array {
  checkByte(code, "reply code");
  const address = bound === undefined ? new Uint8Array(4) : parseIp(bound.address);
  if (address === null) throw new MeshError("invalid_argument", `SOCKS5 bound address ${JSON.stringify(bound?.address)} is not an IP address`, { detail: { path: "bound.address" } });
  const port = bound?.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new MeshError("invalid_argument", `SOCKS5 bound port ${port} is not in 0–65535`, { detail: { path: "bound.port" } });
  const out = new Uint8Array(4 + address.length + 2);
  out.set([SOCKS5_VERSION, code, 0x00, address.length === 4 ? ATYP_IPV4 : ATYP_IPV6]);
  out.set(address, 4);
  out[4 + address.length] = port >> 8;
  out[5 + address.length] = port & 0xff;
  return out;
}

/** A client's greeting; for tests and for a client side (the demo). */
export function encodeGreeting(methods: readonly number[] = [METHOD_NO_AUTH]): Uint8Array {
  if (methods.length > 255) throw new MeshError("invalid_argument", `a SOCKS5 greeting carries at most 255 methods, not ${methods.length}`);
  methods.forEach((m) => checkByte(m, "method"));
  return Uint8Array.of(SOCKS5_VERSION, methods.length, ...methods);
}

/** A client's CONNECT request; for tests and for a client side (the demo). */
export function encodeRequest(destination: Socks5Destination): Uint8Array {
  const { port } = destination;
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new MeshError("invalid_argument", `SOCKS5 port ${port} is not in 0–65535`, { detail: { path: "port" } });
  let address: Uint8Array;
  let atyp: number;
  if (destination.kind === "ip") {
    const ip = parseIp(destination.address);
    if (ip === null) throw new MeshError("invalid_argument", `${JSON.stringify(destination.address)} is not an IP address`, { detail: { path: "address" } });
    address = ip;
    atyp = ip.length === 4 ? ATYP_IPV4 : ATYP_IPV6;
  } else {
    const name = new TextEncoder().encode(destination.name);
    if (name.length < 1 || name.length > 255) throw new MeshError("invalid_argument", `a SOCKS5 domain name is 1–255 bytes, not ${name.length}`, { detail: { path: "name" } });
    address = Uint8Array.of(name.length, ...name);
    atyp = ATYP_DOMAIN;
  }
  const out = new Uint8Array(4 + address.length + 2);
  out.set([SOCKS5_VERSION, COMMAND_CONNECT, 0x00, atyp]);
  out.set(address, 4);
  out[4 + address.length] = port >> 8;
  out[5 + address.length] = port & 0xff;
  return out;
}

/** The text of a raw address, with an IPv4-mapped IPv6 address as its IPv4 address. */
function ipText(raw: Uint8Array): string {
  const mapped = raw.length === 16 && raw.subarray(0, 10).every((b) => b === 0) && raw[10] === 0xff && raw[11] === 0xff;
  return formatIp(mapped ? raw.subarray(12) : raw);
}

/** An IP literal sent as a domain name ("10.0.0.1", "::1", "[::1]") as canonical text; else null. */
function ipLiteral(name: string): string | null {
  const inner = name.startsWith("[") && name.endsWith("]") ? name.slice(1, -1) : name;
  const ip = parseIp(inner);
  return ip === null ? null : ipText(ip);
}

const LABEL = /^[a-z0-9_-]{1,63}$/;
const NUMERIC_LABEL = /^(?:[0-9]+|0x[0-9a-f]*)$/;

/** The lower-cased host name, or why it is not one. */
function checkDomainName(raw: Uint8Array): string | { error: string } {
  for (const b of raw) {
    if (b < 0x20 || b === 0x7f) return { error: `SOCKS5 domain name contains control byte 0x${hex(b)}` };
    if (b >= 0x80) return { error: "SOCKS5 domain name is not ASCII (send IDNA A-labels)" };
  }
  const name = String.fromCharCode(...raw).toLowerCase();
  if (ipLiteral(name) !== null) return name;
  const labels = (name.endsWith(".") ? name.slice(0, -1) : name).split(".");
  for (const label of labels) {
    if (!LABEL.test(label)) return { error: `SOCKS5 domain name ${JSON.stringify(name)} is not a host name (labels of 1–63 letters, digits, '-', '_')` };
  }
  if (NUMERIC_LABEL.test(labels[labels.length - 1] as string)) {
    return { error: `SOCKS5 domain name ${JSON.stringify(name)} looks numeric but is not an IP address` };
  }
  return name;
}

function checkByte(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xff) throw new MeshError("invalid_argument", `SOCKS5 ${what} ${value} is not a byte`);
}

function hex(b: number | undefined): string {
  return (b ?? 0).toString(16).padStart(2, "0");
}
