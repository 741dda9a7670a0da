/**
 * A traffic path: whatever carries a load tool's connections to a backend (nothing, a stunnel
 * pair, the mesh's ztunnels). Setting a path up is separate from the load tool, so every scenario
 * can put every path beside its baseline, and a new path is one module plus one entry in index.ts.
 *
 * Each path runs on one testbed (lib/testbed.ts): `loopback` (everything on 127.0.0.1 in this
 * namespace) or `netns` (load tool in the `sleep` namespace, backend in `productpage`, routed
 * through two node namespaces). A path's ratios are against its testbed's baseline path.
 *
 * Invariant: start() registers every process it spawns with ctx.scope (startDaemon does this),
 * returns only once the path accepts connections, and sends traffic only to addresses
 * ctx.testbed's places allow (loopback, or the run's own topology).
 */
import type { CertSet } from "../lib/certs.ts";
import type { Endpoint } from "../lib/net.ts";
import type { Scope } from "../lib/scope.ts";
import type { Testbed, TestbedKind } from "../lib/testbed.ts";

export interface PathContext {
  /** Closed after the path has been measured: everything started here stops then. */
  readonly scope: Scope;
  /** A private directory for configs and logs. */
  readonly dir: string;
  /** Where the load tool and the backend run. */
  readonly testbed: Testbed;
  /** The run's throwaway PKI, made on first use. */
  certs(): Promise<CertSet>;
  log(message: string): void;
}

/** One proxy process of a path, for per-process CPU and memory figures. */
export interface ProxyProcess {
  /** Which end of the path it sits at: next to the client or next to the server. */
  readonly side: "client" | "server";
  /** Its name in per-proxy rows ("waypoint", "ztunnel node-1"), when a scenario reports each one. */
  readonly name?: string;
  /** Its process group (the leader's pid). */
  readonly pgid: number;
  /** The pid of the proxy itself (for /proc/<pid>/status); may differ from pgid under a wrapper. */
  pid(): number;
  /** File descriptors it holds per proxied connection (to stay within the open-file limit). */
  readonly fdsPerConnection: number;
}

export interface PathSetup {
  /** Where the load tool connects; traffic arriving there must reach the target. */
  readonly address: Endpoint;
  /** Process groups whose CPU time is billed to the path (the proxies; not the load tool or backend). */
  readonly cpuGroups: readonly number[];
  /** The proxies one by one (omitted: none, or not broken down). */
  readonly proxies?: readonly ProxyProcess[];
  /** After the measurement: a reason to reject it (e.g. the traffic did not go through the proxies), or null. */
  verify?(): Promise<string | null>;
}

export interface TrafficPath {
  readonly name: string;
  readonly description: string;
  /** Commands that must be on PATH. */
  readonly tools: readonly string[];
  /** The testbed it runs on (default loopback). */
  readonly testbed?: TestbedKind;
  /** Measured only when named (--paths, or a scenario's defaultPaths), not in "every path". */
  readonly optIn?: boolean;
  /** Why it cannot run on this machine (e.g. not root), or null. Unavailable paths are skipped unless asked for by name. */
  unavailable?(): string | null;
  start(ctx: PathContext, target: Endpoint): Promise<PathSetup>;
}
