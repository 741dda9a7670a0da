/**
 * The request path a waypoint's filters and routes see, normalized as Istio's default (Envoy's
 * `normalize_path`, RFC 3986 §6.2.2): percent-encoded unreserved characters decoded, other
 * percent-escapes upper-cased, dot segments removed (§5.2.4), so `/reviews/../admin` and
 * `/%61dmin` are matched and authorized as `/admin`. Encoded slashes (`%2F`) stay encoded. A path
 * that is not origin-form or carries a broken escape is refused (400). Pure.
 */

const UNRESERVED = /[A-Za-z0-9\-._~]/;
const HEX = /^[0-9A-Fa-f]{2}$/;

function decodeUnreserved(path: string): string | null {
  if (!path.includes("%")) return path;
  let out = "";
  for (let i = 0; i < path.length; i++) {
    const c = path[i] as string;
    if (c !== "%") {
      out += c;
      continue;
    }
    const hex = path.slice(i + 1, i + 3);
    if (!HEX.test(hex)) return null;
    const ch = String.fromCharCode(parseInt(hex, 16));
    out += UNRESERVED.test(ch) ? ch : `%${hex.toUpperCase()}`;
    i += 2;
  }
  return out;
}

/** RFC 3986 §5.2.4 on an absolute path. */
function removeDotSegments(path: string): string {
  if (!path.includes(".")) return path;
  const out: string[] = [];
  const segments = path.split("/").slice(1);
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i] as string;
    const last = i === segments.length - 1;
    if (s === ".") {
      if (last) out.push("");
    } else if (s === "..") {
      out.pop();
      if (last) out.push("");
    } else out.push(s);
  }
  return `/${out.join("/")}`;
}

/** The normalized path (without the query), or null when the request target cannot be served. */
export function normalizePath(path: string): string | null {
  if (!path.startsWith("/")) return null;
  const decoded = decodeUnreserved(path);
  return decoded === null ? null : removeDotSegments(decoded);
}
