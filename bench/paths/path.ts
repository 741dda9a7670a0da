/**
 * A traffic path: whatever carries a load tool's connections to a backend (nothing, a stunnel
 * pair, later the mesh). Setting a path up is separate from the load tool, so every scenario can
 * put every path beside its baseline, and a new path is one module plus one entry in index.ts.
 *
 * Invariant: start() registers every process it spawns with ctx.scope (startDaemon does this),
 * returns only once the path accepts connections, and listens only on loopback.
 */
import type { CertSet } from "../lib/certs.ts";
import type { Endpoint } from "../lib/net.ts";
import type { Scope } from "../lib/scope.ts";

export interface PathContext {
  /** Closed after the path has been measured: everything started here stops then. */
  readonly scope: Scope;
  /** A private directory for configs and logs. */
  readonly dir: string;
  /** The run's throwaway PKI, made on first use. */
  certs(): Promise<CertSet>;
  log(message: string): void;
}

export interface PathSetup {
  /** Where the load tool connects; traffic arriving there must reach the target. */
  readonly address: Endpoint;
  /** Process groups whose CPU time is billed to the path (the proxies; not the load tool or backend). */
  readonly cpuGroups: readonly number[];
}

export interface TrafficPath {
  readonly name: string;
  readonly description: string;
  /** Commands that must be on PATH. */
  readonly tools: readonly string[];
  start(ctx: PathContext, target: Endpoint): Promise<PathSetup>;
}
