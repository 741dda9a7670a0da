/**
 * The Deno adapter of the runtime port. Deno's node:net sockets expose no file descriptor, so
 * capture listeners use Deno.listen, whose accepted connections carry their fd under an internal
 * symbol; getsockopt is called through Deno.dlopen (needs --allow-ffi). Accepted connections are
 * handed to the core as node Duplex streams.
 */
import { DatabaseSync, type SQLInputValue } from "node:sqlite";
import { basename, dirname, resolve } from "node:path";
import type { CaptureListener, RuntimePort, SocketAddress } from "./port.ts";
import { raiseFileLimitWith, type RlimitCall } from "./file-limit.ts";
import { queryOriginalDestination } from "./sockaddr.ts";
import { DATABASE_PRAGMAS, runInTransaction, type SqlDatabase, type SqlValue } from "./sql.ts";
import { envWithPrefix, socketAddress } from "./common.ts";
import { DenoConnStream } from "./deno-conn-stream.ts";
import { deno as D, type DenoConn, type DenoListener, type DenoNetAddr } from "./deno-api.ts";


type GetSockOpt = (fd: number, level: number, name: number, value: Uint8Array, length: Uint32Array) => number;
let libc: ReturnType<typeof D.dlopen> | null = null;

/** libc through Deno.dlopen, bound on first use so nothing is loaded unless capture or the fd limit is used. */
function libcSymbols() {
  libc ??= D.dlopen("libc.so.6", {
    getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
    getrlimit: { parameters: ["i32", "buffer"], result: "i32" },
    setrlimit: { parameters: ["i32", "buffer"], result: "i32" },
  });
  return libc.symbols;
}

function libcGetsockopt(): GetSockOpt {
  const fn = libcSymbols().getsockopt as GetSockOpt;
  return (fd, level, name, value, length) => fn(fd, level, name, value, length);
}

function raiseFileLimit() {
  const symbols = libcSymbols();
  return raiseFileLimitWith(symbols.getrlimit as RlimitCall, symbols.setrlimit as RlimitCall);
}

function fdOf(conn: DenoConn): number | null {
  for (const sym of Object.getOwnPropertySymbols(conn)) {
    if (sym.description === "Deno.internal.fd") {
      const fd = (conn as unknown as Record<symbol, unknown>)[sym];
      return typeof fd === "number" ? fd : null;
    }
  }
  return null;
}

function originalDestinationOf(conn: DenoConn): SocketAddress | null {
  const fd = fdOf(conn);
  return fd === null ? null : queryOriginalDestination(fd, libcGetsockopt());
}

function addressOf(a: DenoNetAddr): SocketAddress {
  return socketAddress(undefined, a.hostname, a.port);
}

function openDatabase(path: string): SqlDatabase {
  const db = new DatabaseSync(path);
  for (const pragma of DATABASE_PRAGMAS) db.exec(pragma);
  const statements = new Map<string, ReturnType<DatabaseSync["prepare"]>>();
  const prepare = (sql: string) => {
    let s = statements.get(sql);
    if (!s) statements.set(sql, (s = db.prepare(sql)));
    return s;
  };
  const bind = (params: readonly SqlValue[] | undefined) => (params ?? []) as SQLInputValue[];
  return {
    exec: (sql) => db.exec(sql),
    run: (sql, params) => {
      const r = prepare(sql).run(...bind(params));
      return { changes: Number(r.changes), lastInsertRowid: r.lastInsertRowid };
    },
    all: <Row extends object>(sql: string, params?: readonly SqlValue[]) =>
      prepare(sql).all(...bind(params)) as unknown as Row[],
    get: <Row extends object>(sql: string, params?: readonly SqlValue[]) =>
      prepare(sql).get(...bind(params)) as unknown as Row | undefined,
    transaction: (fn) => runInTransaction((sql) => db.exec(sql), fn),
    close: () => db.close(),
  };
}

async function acceptLoop(listener: DenoListener, onConnection: Parameters<RuntimePort["listenCapture"]>[1]) {
  try {
    for await (const conn of listener) {
      const socket = new DenoConnStream(conn);
      onConnection({
        socket,
        remote: addressOf(conn.remoteAddr),
        local: addressOf(conn.localAddr),
        originalDestination: originalDestinationOf(conn),
      });
    }
  } catch {
    // The listener was closed: the loop ends.
  }
}

export const denoRuntime: RuntimePort = {
  name: "deno",
  version: D.version.deno,
  argv: () => process.argv.slice(2),
  env: (name) => process.env[name],
  envWithPrefix: (prefix) => envWithPrefix(process.env, prefix),
  exit: (code) => D.exit(code),
  raiseFileLimit,
  onSignal: (signal, handler) => {
    D.addSignalListener(signal, handler);
    return () => D.removeSignalListener(signal, handler);
  },
  watchFile: (path, onChange) => {
    const full = resolve(path);
    const name = basename(full);
    const watcher = D.watchFs(dirname(full), { recursive: false });
    void (async () => {
      try {
        for await (const event of watcher) if (event.paths.some((p) => basename(p) === name)) onChange();
      } catch {
        // closed
      }
    })();
    return { close: () => watcher.close() };
  },
  openDatabase,
  serveHttp: async (options, handler) => {
    const server = D.serve(
      { hostname: options.host, port: options.port, onListen: () => {}, ...(options.tls ? { cert: options.tls.cert, key: options.tls.key } : {}) },
      handler,
    );
    return {
      address: addressOf(server.addr),
      // Deno.serve's shutdown is always graceful; `force` cannot cut in-flight requests short there.
      close: async () => {
        await server.shutdown();
      },
    };
  },
  listenCapture: async (options, onConnection) => {
    const listener = D.listen({ hostname: options.host, port: options.port, transport: "tcp" });
    const done = acceptLoop(listener, onConnection);
    const listening: CaptureListener = {
      address: addressOf(listener.addr),
      close: async () => {
        listener.close();
        await done;
      },
    };
    return listening;
  },
};
