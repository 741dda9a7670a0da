/**
 * An IP endpoint (address and port) and its text form, "ip:port" or "[ipv6]:port". Addresses are
 * canonical text (dotted quads, RFC 5952 IPv6), so endpoints compare as strings. Pure.
 */
import { canonicalIp } from "./ip.ts";

export interface Endpoint {
  readonly address: string;
  readonly port: number;
}

export function formatEndpoint(e: Endpoint): string {
  return e.address.includes(":") ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}

/** "ip:port" or "[ipv6]:port" → canonical endpoint; null when it is not one. */
export function parseEndpoint(text: string): Endpoint | null {
  let host: string;
  let portText: string;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0 || text[close + 1] !== ":") return null;
    host = text.slice(1, close);
    if (!host.includes(":")) return null;
    portText = text.slice(close + 2);
  } else {
    const colon = text.lastIndexOf(":");
    if (colon < 0) return null;
    host = text.slice(0, colon);
    if (host.includes(":")) return null; // an unbracketed IPv6 address
    portText = text.slice(colon + 1);
  }
  if (!/^[0-9]{1,5}$/.test(portText)) return null;
  const port = Number(portText);
  if (port < 1 || port > 65535) return null;
  const address = canonicalIp(host);
  return address ? { address, port } : null;
}
