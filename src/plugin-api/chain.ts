/**
 * Builds a chain from plugins and their raw configs, once per config version: each config is
 * parsed and each filter created here, never per request. A plugin whose config is refused (or
 * whose create throws) is reported and still takes its place in the chain as a filter that
 * always fails, so its failure policy decides what requests see (FailClosed: 500; FailOpen:
 * skipped) — a bad config never silently removes a policy.
 */
import { MeshError } from "../errors/mesh-error.ts";
import { compose, type Chain, type ChainEntry, type FailurePolicy, type Terminal } from "./compose.ts";
import { PluginConfigError, type ConfigRefusal } from "./errors.ts";
import type { PluginHost } from "./host.ts";
import type { Filter, Plugin } from "./plugin.ts";

export interface ChainSpec {
  /** Where the config came from, e.g. "router" or "FilterPlugin ns/quota". */
  readonly name: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each spec pairs a plugin with its own config type
  readonly plugin: Plugin<any>;
  readonly config: unknown;
  readonly failurePolicy: FailurePolicy;
  readonly timeoutMs?: number;
}

export interface BuiltChain {
  readonly chain: Chain;
  readonly entries: readonly ChainEntry[];
  readonly refusals: readonly ConfigRefusal[];
}

export function buildChain(specs: readonly ChainSpec[], terminal: Terminal, host: PluginHost): BuiltChain {
  const refusals: ConfigRefusal[] = [];
  const entries = specs.map((spec): ChainEntry => {
    let filter: Filter;
    try {
      filter = spec.plugin.create(spec.plugin.parseConfig(spec.config), host);
    } catch (err) {
      const refusal = { source: spec.name, path: err instanceof PluginConfigError ? err.path : "", message: MeshError.from(err).message };
      refusals.push(refusal);
      host.log.warn("plugin config refused", { ...refusal, plugin: spec.plugin.name });
      filter = refusedFilter(refusal);
    }
    return { name: spec.name, filter, failurePolicy: spec.failurePolicy, ...(spec.timeoutMs === undefined ? {} : { timeoutMs: spec.timeoutMs }) };
  });
  return { chain: compose(entries, terminal), entries, refusals };
}

function refusedFilter(refusal: ConfigRefusal): Filter {
  const error = new MeshError("failed_precondition", `its config was refused: ${refusal.message}`);
  return async function refused() {
    throw error;
  };
}
