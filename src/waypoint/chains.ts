/**
 * The filter chain of each destination a waypoint fronts, built once per config version (plugins'
 * parseConfig and create run here, never per request) from WaypointConfig.filters in the order the
 * control plane sent them (phase, then priority). A filter applies to a listener when its targets
 * are empty or name the listener.
 *
 * Every RequestAuthentication for a listener becomes one `jwt` filter with all their rules, as
 * Istio merges them into one jwt_authn filter: a token needs to satisfy one rule, not each policy.
 *
 * A filter whose plugin this waypoint does not have yet (authz, wasm, module plugins — issue
 * 17 and 18) still takes its place: its config is refused with the reason, and the chain fails its
 * requests closed (500 naming it) — a policy the waypoint cannot enforce is never skipped in
 * silence. A FilterPlugin that asked for FailOpen is skipped, as its author chose.
 */
import { buildChain, PluginConfigError, type BuiltChain, type ChainSpec, type Plugin, type PluginFetch, type PluginHost, type Terminal } from "../plugin-api/index.ts";
import { createJwtPlugin } from "../../plugins/jwt/index.ts";
import { routerPlugin } from "../../plugins/router/index.ts";
import type { FilterConfigView, WaypointConfigView, WaypointListener } from "../state/view.ts";
import { outsideJwksFetch } from "./jwks-fetch.ts";

export type BuiltIns = Partial<Record<FilterConfigView["plugin"], Plugin<unknown>>>;

/** The first-party plugins. `jwksFetch` fetches a jwksUri outside the mesh (default: public roots only); the jwt plugin's JWKS cache lives as long as the returned set. */
export function builtInPlugins(options: { jwksFetch?: PluginFetch } = {}): BuiltIns {
  return { router: routerPlugin as Plugin<unknown>, jwt: createJwtPlugin({ fetchOutside: options.jwksFetch ?? outsideJwksFetch() }) as Plugin<unknown> };
}

let defaultBuiltIns: BuiltIns | undefined;

/** Istio's merge of RequestAuthentications: the listener's jwt filters become one, in place of the first, with every rule in order (pure). */
export function mergeJwtFilters(filters: readonly FilterConfigView[]): FilterConfigView[] {
  const jwt = filters.filter((f) => f.plugin === "jwt");
  if (jwt.length <= 1) return [...filters];
  const first = jwt[0] as FilterConfigView;
  const merged: FilterConfigView = { ...first, source: jwt.map((f) => f.source).join(", "), config: { jwtRules: jwt.flatMap((f) => (f.config.jwtRules as unknown[] | undefined) ?? []) } };
  return filters.flatMap((f) => (f.plugin !== "jwt" ? [f] : f === first ? [merged] : []));
}

function missingPlugin(f: FilterConfigView): Plugin<unknown> {
  return {
    name: f.plugin,
    version: "0",
    parseConfig() {
      throw new PluginConfigError("", `plugin ${f.plugin} (for ${f.source}) is not available in this waypoint yet: its requests fail closed rather than go unchecked`);
    },
    create() {
      throw new Error("unreachable: the config was refused");
    },
  };
}

function specOf(f: FilterConfigView, builtIns: BuiltIns): ChainSpec {
  const moduleConfig = f.plugin === "module" ? (f.config as { failurePolicy?: unknown }) : undefined;
  return {
    name: f.plugin === "router" ? "router" : `${f.plugin} (${f.source})`,
    plugin: builtIns[f.plugin] ?? missingPlugin(f),
    config: f.config,
    failurePolicy: moduleConfig?.failurePolicy === "FailOpen" ? "FailOpen" : "FailClosed",
  };
}

/** The filters that apply to a listener: those targeting it, and those targeting none (every listener). */
export function filtersFor(config: WaypointConfigView, listener: WaypointListener): FilterConfigView[] {
  return config.filters.filter((f) => f.targets.length === 0 || f.targets.includes(listener.key));
}

export class ListenerChains {
  readonly #host: PluginHost;
  readonly #terminal: Terminal;
  readonly #builtIns: BuiltIns;
  #config: WaypointConfigView | undefined;
  readonly #built = new Map<string, BuiltChain>();

  /** `builtIns` default: one process-wide set (so one JWKS cache) with public roots for jwksUri. */
  constructor(host: PluginHost, terminal: Terminal, builtIns?: BuiltIns) {
    this.#host = host;
    this.#terminal = terminal;
    this.#builtIns = builtIns ?? (defaultBuiltIns ??= builtInPlugins());
  }

  /** The chain for a listener under this config (rebuilt when the config object changes). */
  for(config: WaypointConfigView, listener: WaypointListener): BuiltChain {
    if (config !== this.#config) {
      this.#config = config;
      this.#built.clear();
    }
    let chain = this.#built.get(listener.key);
    if (!chain) {
      const specs = mergeJwtFilters(filtersFor(config, listener)).map((f) => specOf(f, this.#builtIns));
      chain = buildChain(specs, this.#terminal, this.#host);
      this.#built.set(listener.key, chain);
    }
    return chain;
  }
}
