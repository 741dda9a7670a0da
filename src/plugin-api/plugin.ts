/**
 * The shape of a plugin and of the filter it makes. A plugin is a factory: `parseConfig` turns
 * the raw JSON of one config version into the plugin's own typed config or refuses it (throwing a
 * PluginConfigError with a field path), and `create` makes the filter once per config version;
 * the filter then runs once per request. A filter is hono-style middleware: `(ctx, next)`.
 */
import type { RequestContext } from "./context.ts";
import type { PluginHost } from "./host.ts";

export type Next = () => Promise<void>;

/** Read or change ctx.request, reply with ctx.respond (and return), or `await next()` and then read or change ctx.response. */
export type Filter = (ctx: RequestContext, next: Next) => Promise<void>;

export interface Plugin<Config> {
  readonly name: string;
  readonly version: string;
  /** The config or a thrown PluginConfigError naming the field; called once per config version. */
  parseConfig(raw: unknown): Config;
  /** The filter for one config version; called once per config version, not per request. */
  create(config: Config, host: PluginHost): Filter;
}

/** Identity helper that keeps a plugin literal's Config type inferred. */
export function definePlugin<Config>(plugin: Plugin<Config>): Plugin<Config> {
  return plugin;
}
