/**
 * The Bun adapter of the runtime port. Capture listeners are node:net servers; the original
 * destination is read with getsockopt through bun:ffi on the accepted socket's file descriptor.
 */
import { Database, type SQLQueryBindings } from "bun:sqlite";
import { dlopen, FFIType } from "bun:ffi";
import { watch } from "node:fs";
import net from "node:net";
import { basename, dirname, resolve } from "node:path";
import type { CaptureListener, RuntimePort, SignalName, SocketAddress } from "./port.ts";
import { raiseFileLimitWith, type RlimitCall } from "./file-limit.ts";
import { queryOriginalDestination } from "./sockaddr.ts";
import { DATABASE_PRAGMAS, type SqlDatabase, type SqlValue } from "./sql.ts";
import { closeServer, envWithPrefix, socketAddress } from "./common.ts";

type GetSockOpt = (fd: number, level: number, name: number, value: Uint8Array, length: Uint32Array) => number;

const LIBC_SYMBOLS = {
  getsockopt: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  getrlimit: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
  setrlimit: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
} as const;

let libc: ReturnType<typeof dlopen<typeof LIBC_SYMBOLS>> | null = null;

/** libc, bound on first use so nothing is loaded unless capture or the fd limit is used. */
function libcSymbols() {
  libc ??= dlopen("libc.so.6", LIBC_SYMBOLS);
  return libc.symbols;
}

function libcGetsockopt(): GetSockOpt {
  const { getsockopt } = libcSymbols();
  return (fd, level, name, value, length) => getsockopt(fd, level, name, value, length);
}

function raiseFileLimit() {
  const { getrlimit, setrlimit } = libcSymbols();
  const call = (fn: typeof getrlimit): RlimitCall => (resource, limits) => fn(resource, limits);
  return raiseFileLimitWith(call(getrlimit), call(setrlimit));
}

function originalDestinationOf(socket: net.Socket): SocketAddress | null {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== "number" || fd < 0) return null;
  return queryOriginalDestination(fd, libcGetsockopt());
}

function openDatabase(path: string): SqlDatabase {
  const db = new Database(path, { create: true, strict: true });
  for (const pragma of DATABASE_PRAGMAS) db.run(pragma);
  const bind = (params: readonly SqlValue[] | undefined) => (params ?? []) as SQLQueryBindings[];
  return {
    exec: (sql) => void db.run(sql),
    run: (sql, params) => {
      const r = db.query(sql).run(...bind(params));
      return { changes: r.changes, lastInsertRowid: r.lastInsertRowid };
    },
    all: <Row extends object>(sql: string, params?: readonly SqlValue[]) =>
      db.query(sql).all(...bind(params)) as Row[],
    get: <Row extends object>(sql: string, params?: readonly SqlValue[]) =>
      (db.query(sql).get(...bind(params)) ?? undefined) as Row | undefined,
    transaction: <T>(fn: () => T): T => db.transaction(fn).immediate(),
    close: () => db.close(),
  };
}

export const bunRuntime: RuntimePort = {
  name: "bun",
  version: Bun.version,
  argv: () => process.argv.slice(2),
  env: (name) => process.env[name],
  envWithPrefix: (prefix) => envWithPrefix(process.env, prefix),
  exit: (code) => process.exit(code),
  raiseFileLimit,
  onSignal: (signal: SignalName, handler) => {
    process.on(signal, handler);
    return () => void process.off(signal, handler);
  },
  watchFile: (path, onChange) => {
    const full = resolve(path);
    const name = basename(full);
    // Watch the directory: editors and config managers replace files by rename.
    const watcher = watch(dirname(full), (_event, changed) => {
      if (changed === null || changed === name) onChange();
    });
    return { close: () => watcher.close() };
  },
  openDatabase,
  serveHttp: async (options, handler) => {
    const server = Bun.serve({
      hostname: options.host,
      port: options.port,
      fetch: handler,
      ...(options.tls ? { tls: { cert: options.tls.cert, key: options.tls.key } } : {}),
    });
    return {
      address: socketAddress(undefined, server.hostname, server.port),
      close: (force) => server.stop(force ?? false),
    };
  },
  listenCapture: (options, onConnection) =>
    new Promise<CaptureListener>((resolveListener, reject) => {
      const server = net.createServer((socket) => {
        onConnection({
          socket,
          remote: socketAddress(socket.remoteFamily, socket.remoteAddress, socket.remotePort),
          local: socketAddress(socket.localFamily, socket.localAddress, socket.localPort),
          originalDestination: originalDestinationOf(socket),
        });
      });
      server.once("error", reject);
      server.listen({ host: options.host, port: options.port }, () => {
        server.off("error", reject);
        const a = server.address() as net.AddressInfo;
        resolveListener({
          address: socketAddress(a.family, a.address, a.port),
          close: () => closeServer(server),
        });
      });
    }),
};
