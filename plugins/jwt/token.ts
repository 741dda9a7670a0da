/**
 * A compact JWT taken apart, with every check jwt_verify_lib makes before the signature: three
 * base64url parts, a JSON object header with a supported `alg` (never `none`) and a string `kid`
 * if any, a JSON object payload whose registered claims have their types (iss/sub strings, aud a
 * string or list of strings, exp/nbf/iat integers). Pure: the same text, the same answer.
 */
import { isJwsAlgorithm, type JwsAlgorithm } from "../../src/plugin-api/index.ts";
import { STATUS, type Status } from "./status.ts";

export interface ParsedToken {
  readonly text: string;
  readonly alg: JwsAlgorithm;
  readonly kid: string | null;
  readonly iss: string | null;
  readonly sub: string | null;
  readonly aud: readonly string[];
  readonly exp: number | null;
  readonly nbf: number | null;
  readonly azp: string | null;
  /** The payload segment as sent (base64url): what outputPayloadToHeader forwards. */
  readonly payloadSegment: string;
  readonly claims: Readonly<Record<string, unknown>>;
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Bytes of a base64url segment (no padding), or null. */
export function base64urlDecode(segment: string): Uint8Array | null {
  if (!BASE64URL.test(segment) || segment.length % 4 === 1) return null;
  try {
    const binary = atob(segment.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (segment.length % 4)) % 4));
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes;
  } catch {
    return null;
  }
}

function jsonObject(segment: string): Record<string, unknown> | "base64" | "json" {
  const bytes = base64urlDecode(segment);
  if (bytes === null) return "base64";
  try {
    const value: unknown = JSON.parse(decoder.decode(bytes));
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : "json";
  } catch {
    return "json";
  }
}

const optString = (v: unknown): string | null | undefined => (v === undefined ? null : typeof v === "string" ? v : undefined);
const optInteger = (v: unknown): number | null | undefined => (v === undefined ? null : typeof v === "number" && Number.isInteger(v) && v >= 0 ? v : undefined);

export function parseToken(text: string): ParsedToken | Status {
  const parts = text.split(".");
  if (parts.length !== 3) return STATUS.badFormat;
  const [h, p, s] = parts as [string, string, string];
  const header = jsonObject(h);
  if (header === "base64") return STATUS.headerBase64;
  if (header === "json") return STATUS.headerJson;
  if (typeof header.alg !== "string") return STATUS.headerAlg;
  if (!isJwsAlgorithm(header.alg)) return STATUS.algNotImplemented;
  const kid = optString(header.kid);
  if (kid === undefined) return STATUS.headerKid;
  const payload = jsonObject(p);
  if (payload === "base64") return STATUS.payloadBase64;
  if (payload === "json") return STATUS.payloadJson;
  const iss = optString(payload.iss);
  if (iss === undefined) return STATUS.issNotString;
  const sub = optString(payload.sub);
  if (sub === undefined) return STATUS.subNotString;
  if (optInteger(payload.iat) === undefined) return STATUS.iatNotInteger;
  const nbf = optInteger(payload.nbf);
  if (nbf === undefined) return STATUS.nbfNotInteger;
  const exp = optInteger(payload.exp);
  if (exp === undefined) return STATUS.expNotInteger;
  const aud = payload.aud === undefined ? [] : typeof payload.aud === "string" ? [payload.aud] : payload.aud;
  if (!Array.isArray(aud) || !aud.every((a) => typeof a === "string")) return STATUS.audNotString;
  if (s === "" || !BASE64URL.test(s) || s.length % 4 === 1) return STATUS.signatureBase64; // decodable; the bytes are jose's to read
  return { text, alg: header.alg, kid, iss, sub, aud, exp, nbf, azp: typeof payload.azp === "string" ? payload.azp : null, payloadSegment: p, claims: payload };
}
