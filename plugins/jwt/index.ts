/**
 * The first-party jwt plugin: Istio RequestAuthentication for waypoints (see docs/plugins.md).
 * Imports only the plugin API. A plugin instance owns its JWKS cache, so fetched keys outlive
 * config versions; `createJwtPlugin` takes how a jwksUri outside the mesh is fetched (the waypoint
 * passes one that trusts its operator's CA bundle too) and the cache policy (tests shorten it).
 */
import { definePlugin, type Plugin, type PluginFetch } from "../../src/plugin-api/index.ts";
import { parseJwtConfig, type JwtConfig } from "./config.ts";
import { createJwtFilter } from "./filter.ts";
import { DEFAULT_JWKS_POLICY, RemoteJwks, type JwksPolicy } from "./remote-jwks.ts";

export interface JwtPluginOptions {
  /** Fetches an https:// jwksUri outside the mesh; default: the runtime's fetch (its own trust roots). */
  readonly fetchOutside?: PluginFetch;
  readonly policy?: Partial<JwksPolicy>;
}

export function createJwtPlugin(options: JwtPluginOptions = {}): Plugin<JwtConfig> {
  const cache = new Map<string, RemoteJwks>();
  const remote = (uri: string) => {
    let entry = cache.get(uri);
    if (!entry) cache.set(uri, (entry = new RemoteJwks(uri)));
    return entry;
  };
  const jwks = { remote, fetchOutside: options.fetchOutside ?? ((request: Request) => fetch(request)), policy: { ...DEFAULT_JWKS_POLICY, ...options.policy } };
  return definePlugin<JwtConfig>({
    name: "jwt",
    version: "1.0.0",
    parseConfig: parseJwtConfig,
    create: (config, host) => createJwtFilter(config, host, jwks),
  });
}

export { decideJwks, DEFAULT_JWKS_POLICY } from "./remote-jwks.ts";
export type { JwksPolicy } from "./remote-jwks.ts";
export type { JwtConfig } from "./config.ts";
