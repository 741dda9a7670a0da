/**
 * Loopback addresses and ports.
 *
 * Invariant: benchmarks send traffic only to loopback (127.0.0.0/8 or ::1). Every endpoint a load
 * tool or proxy is pointed at goes through loopback(), which refuses anything else, including
 * host names (a name could resolve elsewhere).
 */
import { readFileSync } from "node:fs";
import net from "node:net";
import { pollUntil } from "./poll.ts";

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

export function isLoopback(host: string): boolean {
  if (net.isIPv4(host)) return host.split(".")[0] === "127";
  if (net.isIPv6(host)) return host === "::1" || host === "0:0:0:0:0:0:0:1";
  return false;
}

/** The endpoint itself, after checking it is a literal loopback address and a valid port. */
export function loopback(endpoint: Endpoint): Endpoint {
  if (!isLoopback(endpoint.host)) throw new Error(`refusing non-loopback address ${endpoint.host}: benchmarks stay on 127.0.0.0/8 and ::1`);
  if (!Number.isInteger(endpoint.port) || endpoint.port < 1 || endpoint.port > 65535) throw new Error(`bad port ${endpoint.port}`);
  return endpoint;
}

/** "127.0.0.1:8080" or "[::1]:8080", the form stunnel, nginx and URLs take. */
export function hostPort(endpoint: Endpoint): string {
  return net.isIPv6(endpoint.host) ? `[${endpoint.host}]:${endpoint.port}` : `${endpoint.host}:${endpoint.port}`;
}

/** A port the kernel says is free now: bind port 0, read it back, close. (Another process could take it before we use it.) */
export function freePort(host = "127.0.0.1"): Promise<Endpoint> {
  loopback({ host, port: 1 });
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === "object") resolve({ host, port: address.port });
        else reject(new Error("could not read back the bound port"));
      });
    });
  });
}

export interface WaitOptions {
  readonly timeoutMs?: number;
  /** Fail fast when this returns a reason, e.g. the process that should listen has exited. */
  readonly giveUp?: () => string | null;
}

function connectOnce(endpoint: Endpoint): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: endpoint.host, port: endpoint.port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/** Wait until a TCP connect to the endpoint succeeds. The probe connection is opened and closed at once. */
export async function waitForPort(endpoint: Endpoint, options: WaitOptions = {}): Promise<void> {
  loopback(endpoint);
  await pollUntil(async () => ((await connectOnce(endpoint)) ? true : null), {
    timeoutMs: options.timeoutMs ?? 10_000,
    what: `a listener on ${hostPort(endpoint)}`,
    giveUp: options.giveUp,
  });
}

/** Ports in LISTEN state in the text of /proc/net/tcp or tcp6 (several files may be concatenated). */
export function parseListeningPorts(text: string, into = new Set<number>()): Set<number> {
  for (const line of text.split("\n")) {
    const [, local, , state] = line.trim().split(/\s+/);
    if (state !== "0A" || !local || !local.includes(":")) continue; // 0A = TCP_LISTEN; skips the header line
    into.add(parseInt(local.slice(local.lastIndexOf(":") + 1), 16));
  }
  return into;
}

/** Ports in LISTEN state in this process's network namespace, from /proc/net/tcp and tcp6 (Linux). */
function listeningPorts(): Set<number> {
  const ports = new Set<number>();
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    try {
      parseListeningPorts(readFileSync(file, "utf8"), ports);
    } catch {
      continue;
    }
  }
  return ports;
}

/**
 * Wait until something listens on the endpoint's port, without connecting to it. Use this where a
 * probe connection has side effects: through a proxy chain it opens a connection at every hop, and
 * iperf3 counts it as a failed test.
 */
export async function waitForListen(endpoint: Endpoint, options: WaitOptions = {}): Promise<void> {
  loopback(endpoint);
  await pollUntil(() => (listeningPorts().has(endpoint.port) ? true : null), {
    timeoutMs: options.timeoutMs ?? 10_000,
    what: `a listener on ${hostPort(endpoint)}`,
    giveUp: options.giveUp,
  });
}
