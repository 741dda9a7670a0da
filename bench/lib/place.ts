/**
 * Where a benchmark process runs and whom it may send traffic to: this network namespace (the
 * loopback testbed), or one namespace of a topology the run built itself (testbed.ts).
 *
 * Invariant: every endpoint a load tool, proxy or backend is pointed at goes through
 * place.target(), which allows loopback and, inside a topology, only the addresses that topology
 * assigned. Nothing is ever sent to an address the run did not create.
 */
import { freePort, hostPort, isLoopback, loopback, parseListeningPorts, waitForListen, type Endpoint, type WaitOptions } from "./net.ts";
import { pollUntil } from "./poll.ts";
import { runOk } from "./process.ts";

export interface Place {
  /** "loopback", or the namespace's label in its topology ("sleep", "node-1"…). */
  readonly name: string;
  /** The address servers started here bind to. */
  readonly address: string;
  /** argv that runs the command here. */
  exec(argv: readonly string[]): string[];
  /** The endpoint itself if traffic may be sent to it from here; throws otherwise. */
  target(endpoint: Endpoint): Endpoint;
  /** A port free on `address` here now. */
  freePort(): Promise<Endpoint>;
  /** Wait until something listens on the endpoint's port here, without connecting to it. */
  waitForListen(endpoint: Endpoint, options?: WaitOptions): Promise<void>;
}

/** The harness's own namespace, loopback only. */
export const LOOPBACK: Place = {
  name: "loopback",
  address: "127.0.0.1",
  exec: (argv) => [...argv],
  target: loopback,
  freePort: () => freePort("127.0.0.1"),
  waitForListen,
};

export interface NamespaceSpec {
  /** Label, for messages. */
  readonly name: string;
  /** The `ip netns` name. */
  readonly netns: string;
  /** The address servers here bind to (one of `allowed`). */
  readonly address: string;
  /** Every address the topology assigned: the only non-loopback destinations allowed. */
  readonly allowed: ReadonlySet<string>;
}

/**
 * A namespace of a topology this run built. Ports are handed out from a counter: nothing else
 * runs there, and waitForListen below catches a clash.
 */
export function namespacePlace(spec: NamespaceSpec): Place {
  if (!spec.allowed.has(spec.address)) throw new Error(`${spec.name}: ${spec.address} is not an address of the topology`);
  let nextPort = 20_000;
  const exec = (argv: readonly string[]): string[] => ["ip", "netns", "exec", spec.netns, ...argv];
  const target = (endpoint: Endpoint): Endpoint => {
    if (!isLoopback(endpoint.host) && !spec.allowed.has(endpoint.host)) {
      throw new Error(`refusing ${endpoint.host} from ${spec.name}: not loopback and not an address of this run's topology`);
    }
    if (!Number.isInteger(endpoint.port) || endpoint.port < 1 || endpoint.port > 65535) throw new Error(`bad port ${endpoint.port}`);
    return endpoint;
  };
  const listening = async (): Promise<Set<number>> => parseListeningPorts(await runOk(exec(["cat", "/proc/net/tcp", "/proc/net/tcp6"]), 5000));
  return {
    name: spec.name,
    address: spec.address,
    exec,
    target,
    freePort: async () => {
      const busy = await listening();
      while (busy.has(nextPort)) nextPort++;
      return { host: spec.address, port: nextPort++ };
    },
    waitForListen: async (endpoint, options = {}) => {
      target(endpoint);
      await pollUntil(async () => ((await listening()).has(endpoint.port) ? true : null), {
        timeoutMs: options.timeoutMs ?? 10_000,
        what: `a listener on ${hostPort(endpoint)} in ${spec.name}`,
        giveUp: options.giveUp,
        intervalMs: 50,
      });
    },
  };
}
