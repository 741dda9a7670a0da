/**
 * One stunnel4 process in the foreground with a generated config: TLS 1.3 only, mutual
 * authentication against the run's CA (the client side also checks the server's name). Its log
 * is its stderr, in the given directory; no pid file, no syslog.
 */
import type { CertSet } from "../lib/certs.ts";
import type { Endpoint } from "../lib/net.ts";
import { LOOPBACK, type Place } from "../lib/place.ts";
import type { Daemon } from "../lib/process.ts";
import type { Scope } from "../lib/scope.ts";
import { startConfiguredDaemon } from "./configured-daemon.ts";

export interface StunnelOptions {
  readonly name: string;
  readonly dir: string;
  /** client: plaintext in, TLS out; server: TLS in, plaintext out. */
  readonly role: "client" | "server";
  readonly accept: Endpoint;
  readonly connect: Endpoint;
  readonly certs: CertSet;
  /** Where it runs (default: this namespace, loopback only); accept and connect must be allowed there. */
  readonly place?: Place;
}

/** stunnel splits host and port at the last colon, so IPv6 needs no brackets. */
const address = (place: Place, e: Endpoint): string => `${place.target(e).host}:${e.port}`;

export function stunnelConfig(o: StunnelOptions): string {
  const place = o.place ?? LOOPBACK;
  const pair = o.role === "client" ? o.certs.client : o.certs.server;
  return [
    "foreground = yes",
    "pid =",
    "syslog = no",
    "debug = notice",
    `[${o.name}]`,
    `client = ${o.role === "client" ? "yes" : "no"}`,
    `accept = ${address(place, o.accept)}`,
    `connect = ${address(place, o.connect)}`,
    `cert = ${pair.cert}`,
    `key = ${pair.key}`,
    `CAfile = ${o.certs.caCert}`,
    "verifyChain = yes",
    o.role === "client" ? `checkHost = ${o.certs.serverName}` : "requireCert = yes",
    "sslVersionMin = TLSv1.3",
    "sslVersionMax = TLSv1.3",
    "",
  ].join("\n");
}

/** Start it and wait until it listens. */
export function startStunnel(scope: Scope, o: StunnelOptions): Promise<Daemon> {
  return startConfiguredDaemon(scope, { name: o.name, dir: o.dir, extension: ".conf", config: stunnelConfig(o), argv: (path) => ["stunnel", path], accept: o.accept, place: o.place });
}
