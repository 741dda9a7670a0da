/**
 * Path and URL arithmetic for redirects and rewrites (Gateway API HTTPPathModifier, HTTPRequestRedirectFilter).
 */
import type { PathModifier, Redirect } from "./config.ts";

/** Does `path` fall under `prefix` element-wise? ("/foo" covers "/foo", "/foo/", "/foo/bar", not "/foobar"; prefix already has no trailing "/"). */
export function underPrefix(path: string, prefix: string): boolean {
  return prefix === "/" || path === prefix || (path.startsWith(prefix) && path.charCodeAt(prefix.length) === 47 /* "/" */);
}

/** The path after a modifier; `prefix` is the rule's PathPrefix match value (normalized, no trailing "/"). */
export function modifyPath(path: string, modifier: PathModifier, prefix: string): string {
  if (modifier.type === "ReplaceFullPath") return modifier.value;
  // What follows the prefix keeps its leading "/" (or is empty), so the replacement loses its trailing one.
  const joined = modifier.value.replace(/\/+$/, "") + (prefix === "/" ? path : path.slice(prefix.length));
  return joined === "" ? "/" : joined;
}

const DEFAULT_PORT = { http: 80, https: 443 } as const;

/** The Location of a redirect: scheme, host and port derived as the Gateway API says, query kept. */
export function redirectLocation(r: Redirect, req: { scheme: "http" | "https"; authority: string; path: string; query: string; port: number }, prefix: string): string {
  const scheme = r.scheme ?? req.scheme;
  const host = r.hostname ?? hostOf(req.authority);
  const port = r.port ?? (r.scheme !== null ? DEFAULT_PORT[scheme] : req.port);
  const path = r.path === null ? req.path : modifyPath(req.path, r.path, prefix);
  return `${scheme}://${host}${port === DEFAULT_PORT[scheme] ? "" : `:${port}`}${path}${req.query === "" ? "" : `?${req.query}`}`;
}

export function hostOf(authority: string): string {
  if (authority.startsWith("[")) return authority.slice(0, authority.indexOf("]") + 1);
  const colon = authority.lastIndexOf(":");
  return colon === -1 ? authority : authority.slice(0, colon);
}
