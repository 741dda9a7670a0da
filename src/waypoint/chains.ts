/**
 * The filter chain of each destination a waypoint fronts, built once per config version (plugins'
 * parseConfig and create run here, never per request) from WaypointConfig.filters in the order the
 * control plane sent them (phase, then priority). A filter applies to a listener when its targets
 * are empty or name the listener.
 *
 * A filter whose plugin this waypoint does not have yet (jwt, authz, wasm, module plugins — issue
 * 17 and 18) still takes its place: its config is refused with the reason, and the chain fails its
 * requests closed (500 naming it) — a policy the waypoint cannot enforce is never skipped in
 * silence. A FilterPlugin that asked for FailOpen is skipped, as its author chose.
 */
import { buildChain, PluginConfigError, type BuiltChain, type ChainSpec, type Plugin, type PluginHost, type Terminal } from "../plugin-api/index.ts";
import { routerPlugin } from "../../plugins/router/index.ts";
import type { FilterConfigView, WaypointConfigView, WaypointListener } from "../state/view.ts";

const BUILT_IN: Partial<Record<FilterConfigView["plugin"], Plugin<unknown>>> = { router: routerPlugin as Plugin<unknown> };

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

function specOf(f: FilterConfigView): ChainSpec {
  const moduleConfig = f.plugin === "module" ? (f.config as { failurePolicy?: unknown }) : undefined;
  return {
    name: f.plugin === "router" ? "router" : `${f.plugin} (${f.source})`,
    plugin: BUILT_IN[f.plugin] ?? missingPlugin(f),
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
  #config: WaypointConfigView | undefined;
  readonly #built = new Map<string, BuiltChain>();

  constructor(host: PluginHost, terminal: Terminal) {
    this.#host = host;
    this.#terminal = terminal;
  }

  /** The chain for a listener under this config (rebuilt when the config object changes). */
  for(config: WaypointConfigView, listener: WaypointListener): BuiltChain {
    if (config !== this.#config) {
      this.#config = config;
      this.#built.clear();
    }
    let chain = this.#built.get(listener.key);
    if (!chain) {
      const specs = filtersFor(config, listener).map(specOf);
      chain = buildChain(specs, this.#terminal, this.#host);
      this.#built.set(listener.key, chain);
    }
    return chain;
  }
}
