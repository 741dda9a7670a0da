/**
 * The parts of Deno's global API that mesh uses, typed by hand, so the project type-checks with
 * tsc and bun-types without Deno's own global declarations. Only src/runtime imports this.
 */
import type { SignalName } from "./port.ts";

export interface DenoNetAddr {
  transport: "tcp";
  hostname: string;
  port: number;
}
export interface DenoConn {
  readonly localAddr: DenoNetAddr;
  readonly remoteAddr: DenoNetAddr;
  read(buffer: Uint8Array): Promise<number | null>;
  write(data: Uint8Array): Promise<number>;
  closeWrite(): Promise<void>;
  close(): void;
}
export interface DenoListener extends AsyncIterable<DenoConn> {
  readonly addr: DenoNetAddr;
  close(): void;
}
export interface DenoFsWatcher extends AsyncIterable<{ kind: string; paths: string[] }> {
  close(): void;
}
export interface DenoApi {
  readonly version: { readonly deno: string };
  listen(options: { hostname: string; port: number; transport: "tcp" }): DenoListener;
  dlopen(
    path: string,
    symbols: Record<string, { parameters: string[]; result: string }>,
  ): { symbols: Record<string, (...args: unknown[]) => unknown> };
  addSignalListener(signal: SignalName, handler: () => void): void;
  removeSignalListener(signal: SignalName, handler: () => void): void;
  watchFs(path: string, options?: { recursive: boolean }): DenoFsWatcher;
  exit(code: number): never;
  serve(
    options: { hostname: string; port: number; cert?: string; key?: string; onListen?: (addr: DenoNetAddr) => void },
    handler: (request: Request) => Response | Promise<Response>,
  ): { readonly addr: DenoNetAddr; shutdown(): Promise<void>; readonly finished: Promise<void> };
  execPath(): string;
  test(t: { name: string; ignore?: boolean; sanitizeOps?: boolean; sanitizeResources?: boolean; fn: () => Promise<void> }): void;
}


export const deno = (globalThis as unknown as { Deno: DenoApi }).Deno;
