/**
 * Where a rule finds tokens (Envoy's extractor): each `fromHeaders` header whose value holds the
 * prefix (the token is the run of JWT characters right after it), each `fromParams` query
 * parameter, each `fromCookies` cookie. Every token found must verify; none found is "missing".
 */
import type { HeaderMap } from "../../src/plugin-api/index.ts";
import type { JwtRule } from "./config.ts";

export interface FoundToken {
  readonly text: string;
  /** The header it came from (removed before the upstream unless forwardOriginalToken), null for a parameter or cookie. */
  readonly header: string | null;
}

const JWT_CHARS = /^[A-Za-z0-9._~+/=-]+/;

function fromHeader(value: string, prefix: string): string | null {
  const pos = prefix === "" ? 0 : value.indexOf(prefix);
  if (pos === -1) return null;
  const run = JWT_CHARS.exec(value.slice(pos + prefix.length));
  return run ? run[0] : null;
}

function cookies(header: string | null): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0) out.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  return out;
}

export function extractTokens(rule: JwtRule, request: { readonly headers: HeaderMap; readonly query: string }): FoundToken[] {
  const found: FoundToken[] = [];
  for (const h of rule.fromHeaders) {
    const value = request.headers.get(h.name);
    const text = value === null ? null : fromHeader(value, h.prefix);
    if (text !== null) found.push({ text, header: h.name });
  }
  if (rule.fromParams.length > 0 && request.query !== "") {
    const params = new URLSearchParams(request.query);
    for (const name of rule.fromParams) for (const text of params.getAll(name)) if (text !== "") found.push({ text, header: null });
  }
  if (rule.fromCookies.length > 0) {
    const jar = cookies(request.headers.get("cookie"));
    for (const name of rule.fromCookies) {
      const text = jar.get(name);
      if (text) found.push({ text, header: null });
    }
  }
  return found;
}
