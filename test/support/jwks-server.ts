/**
 * A JWKS server for tests: HTTPS (a certificate for localhost and 127.0.0.1 signed by a throwaway
 * CA made with openssl per run) or plain HTTP, on a loopback address and port 0. What it answers is
 * changeable while it runs (rotate the keys, go down with 503, hang, send too much), and it counts
 * requests. `close()` stops it and removes the key material.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runOk } from "./command.ts";

export type JwksMode = { kind: "serve"; body: string } | { kind: "status"; status: number } | { kind: "hang" } | { kind: "huge"; bytes: number };

export interface JwksServer {
  /** https://localhost:PORT/jwks (or http://…). */
  readonly url: string;
  readonly port: number;
  /** The throwaway CA's certificate (PEM) that signed the server's, for HTTPS servers. */
  readonly caPem: string;
  mode: JwksMode;
  readonly requests: number;
  close(): Promise<void>;
}

/** A CA and a server certificate for localhost / 127.0.0.1 (and `extraIp`), made with openssl in a temporary directory. */
export async function makeServerCertificate(extraIp?: string): Promise<{ caPem: string; certPem: string; keyPem: string }> {
  const dir = mkdtempSync(join(tmpdir(), "mesh-jwks-"));
  try {
    const f = (n: string) => join(dir, n);
    await runOk(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", f("ca.key"), "-out", f("ca.pem"), "-days", "2", "-subj", "/CN=mesh jwks test CA"]);
    await runOk(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", f("srv.key"), "-out", f("srv.csr"), "-subj", "/CN=localhost"]);
    writeFileSync(f("ext"), `subjectAltName=DNS:localhost,IP:127.0.0.1${extraIp ? `,IP:${extraIp}` : ""}\n`);
    await runOk(["openssl", "x509", "-req", "-in", f("srv.csr"), "-CA", f("ca.pem"), "-CAkey", f("ca.key"), "-CAcreateserial", "-out", f("srv.pem"), "-days", "2", "-extfile", f("ext")]);
    return { caPem: readFileSync(f("ca.pem"), "utf8"), certPem: readFileSync(f("srv.pem"), "utf8"), keyPem: readFileSync(f("srv.key"), "utf8") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function startJwksServer(options: { tls: boolean; host?: string; port?: number; body?: string; cert?: { caPem: string; certPem: string; keyPem: string } }): Promise<JwksServer> {
  const host = options.host ?? "127.0.0.1";
  const cert = options.tls ? (options.cert ?? (await makeServerCertificate())) : undefined;
  let requests = 0;
  const hanging = new Set<http.ServerResponse>();
  const state: { mode: JwksMode } = { mode: { kind: "serve", body: options.body ?? '{"keys":[]}' } };
  const handler = (_req: http.IncomingMessage, res: http.ServerResponse) => {
    requests++;
    const mode = state.mode;
    if (mode.kind === "serve") return void res.writeHead(200, { "content-type": "application/json" }).end(mode.body);
    if (mode.kind === "status") return void res.writeHead(mode.status).end("down");
    if (mode.kind === "huge") return void res.writeHead(200, { "content-type": "application/json" }).end(`{"keys":[],"pad":"${"x".repeat(mode.bytes)}"}`);
    hanging.add(res);
    res.on("close", () => hanging.delete(res));
  };
  const server = cert ? https.createServer({ cert: cert.certPem, key: cert.keyPem }, handler) : http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, host, resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${cert ? "https" : "http"}://${cert ? "localhost" : host}:${port}/jwks`,
    port,
    caPem: cert?.caPem ?? "",
    get mode() {
      return state.mode;
    },
    set mode(m: JwksMode) {
      state.mode = m;
    },
    get requests() {
      return requests;
    },
    close: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
