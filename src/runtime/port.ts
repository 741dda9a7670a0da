/**
 * The runtime port: everything the core needs that Bun and Deno do differently. Core code gets a
 * RuntimePort from the entry point and never touches `Bun`, `Deno` or `bun:*` itself (a lint rule
 * enforces it). Each adapter (bun.ts, deno.ts) passes the shared contract suite (contract.ts).
 */
import type { Duplex } from "node:stream";
import type { SqlDatabase } from "./sql.ts";

export type RuntimeName = "bun" | "deno";
export type SignalName = "SIGTERM" | "SIGINT" | "SIGHUP" | "SIGUSR1" | "SIGUSR2";

export interface SocketAddress {
  readonly family: 4 | 6;
  readonly address: string;
  readonly port: number;
}

/** A connection accepted by a capture listener. */
export interface CapturedConnection {
  readonly socket: Duplex;
  readonly remote: SocketAddress;
  readonly local: SocketAddress;
  /** Where the client was really going before an iptables REDIRECT; null when not redirected. */
  readonly originalDestination: SocketAddress | null;
}

export interface CaptureListenOptions {
  readonly host: string;
  readonly port: number;
}

export interface CaptureListener {
  readonly address: SocketAddress;
  close(): Promise<void>;
}

/** A web-standard request handler (what hono's `app.fetch` is). */
export type FetchHandler = (request: Request) => Response | Promise<Response>;

export interface HttpServeOptions {
  readonly host: string;
  readonly port: number;
  /** TLS with PEM strings; plain HTTP when absent. */
  readonly tls?: { readonly cert: string; readonly key: string };
}

export interface HttpServer {
  readonly address: SocketAddress;
  /** Stop accepting; in-flight requests finish (graceful) unless `force`. */
  close(force?: boolean): Promise<void>;
}

/** The process's limit on open files, after raising the soft limit (Infinity: unlimited). */
export interface FileLimit {
  /** The soft limit before it was raised. */
  readonly before: number;
  readonly soft: number;
  readonly hard: number;
}

export interface Closer {
  close(): void;
}

export interface RuntimePort {
  readonly name: RuntimeName;
  readonly version: string;
  /** Command-line arguments after the program (and script) name. */
  argv(): readonly string[];
  env(name: string): string | undefined;
  /** All environment variables whose names start with `prefix`. */
  envWithPrefix(prefix: string): Readonly<Record<string, string>>;
  exit(code: number): never;
  /** Raise the soft RLIMIT_NOFILE to the hard limit (servers facing many connections call it at start). */
  raiseFileLimit(): FileLimit;
  /** Subscribe to a signal; the returned function unsubscribes. */
  onSignal(signal: SignalName, handler: () => void): () => void;
  /** Call `onChange` when the file at `path` is written, replaced, created or removed. */
  watchFile(path: string, onChange: () => void): Closer;
  /** Open (creating if needed) an embedded SQLite database; ":memory:" for a private one. */
  openDatabase(path: string): SqlDatabase;
  /** Serve HTTP/1.1 with the runtime's native server (Bun.serve, Deno.serve): APIs, admin, metrics. */
  serveHttp(options: HttpServeOptions, handler: FetchHandler): Promise<HttpServer>;
  /** Accept TCP connections, reporting each one's original destination (SO_ORIGINAL_DST). */
  listenCapture(
    options: CaptureListenOptions,
    onConnection: (conn: CapturedConnection) => void,
  ): Promise<CaptureListener>;
}
