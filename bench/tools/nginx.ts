/**
 * An nginx backend (on loopback, or in a testbed namespace) serving a small fixed body, with its own prefix, config, pid file,
 * logs and temp paths in a private directory: nothing under /etc, /var or /run is touched. One
 * worker, no access log, keep-alive effectively unlimited so a load run never reconnects (which
 * through a TLS proxy would add handshakes to the figures).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hostPort, type Endpoint } from "../lib/net.ts";
import { LOOPBACK, type Place } from "../lib/place.ts";
import { startDaemon, type Daemon } from "../lib/process.ts";
import type { Scope } from "../lib/scope.ts";

export interface NginxOptions {
  readonly bodyBytes: number;
  readonly workers: number;
  /** Where it runs and listens (default: 127.0.0.1 here). */
  readonly place?: Place;
  /** worker_connections (default 4096). */
  readonly connections?: number;
  /** Proxy every request to this endpoint (HTTP/1.1, kept-alive upstream connections) instead of answering. */
  readonly proxyTo?: Endpoint;
}

export function nginxConfig(dir: string, listen: Endpoint, o: NginxOptions): string {
  const body = "x".repeat(Math.max(0, o.bodyBytes - 1)) + "\n";
  const p = (name: string): string => join(dir, name);
  return `daemon off;
master_process on;
worker_processes ${o.workers};
pid ${p("nginx.pid")};
error_log ${p("nginx-error.log")} warn;
events { worker_connections ${o.connections ?? 4096}; }
http {
  access_log off;
  client_body_temp_path ${p("client_body")};
  proxy_temp_path ${p("proxy")};
  fastcgi_temp_path ${p("fastcgi")};
  uwsgi_temp_path ${p("uwsgi")};
  scgi_temp_path ${p("scgi")};
  keepalive_requests 100000000;
  keepalive_timeout 300s;${o.proxyTo ? `
  upstream target {
    server ${hostPort(o.proxyTo)};
    keepalive 128;
    keepalive_requests 100000000;
  }` : ""}
  server {
    listen ${hostPort(listen)};
    location / {${o.proxyTo ? `
      proxy_pass http://target;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;` : `
      default_type text/plain;
      return 200 "${body}";`}
    }
  }
}
`;
}

export async function startNginx(scope: Scope, dir: string, o: NginxOptions): Promise<Endpoint> {
  return (await startNginxDaemon(scope, dir, o)).endpoint;
}

/** Start it and wait until it listens: where, and its process (for CPU accounting). */
export async function startNginxDaemon(scope: Scope, dir: string, o: NginxOptions): Promise<{ endpoint: Endpoint; daemon: Daemon }> {
  const place = o.place ?? LOOPBACK;
  const endpoint = await place.freePort();
  const conf = join(dir, "nginx.conf");
  writeFileSync(conf, nginxConfig(dir, endpoint, o));
  // -e sets the error log before the config is read, so nginx never opens its compiled-in /var/log path.
  const argv = ["nginx", "-p", dir, "-c", conf, "-e", join(dir, "nginx-error.log")];
  const daemon = await startDaemon(scope, "nginx", place.exec(argv), { logPath: join(dir, "nginx.out") });
  await place.waitForListen(endpoint, {
    giveUp: () => (daemon.exit() ? `nginx exited: ${daemon.logTail()}\n${readTail(join(dir, "nginx-error.log"))}` : null),
  });
  return { endpoint, daemon };
}

function readTail(path: string): string {
  try {
    return readFileSync(path, "utf8").slice(-2000);
  } catch {
    return "";
  }
}
