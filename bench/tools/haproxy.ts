/**
 * One haproxy process in the foreground relaying TCP (mode tcp, one thread, Nagle off both ways)
 * from `accept` to `connect`, with a generated config; with `mode: "http"` an L7 proxy instead
 * (HTTP/1.1 parsed per request, keep-alive both sides, idle server connections reused). It logs nothing but its own start-up
 * errors (stderr, in the given directory).
 *
 * With `tls`, one side of the relay is mutual TLS 1.3 against the run's CA, like the stunnel
 * pair: `server` terminates it on `accept` (a client certificate is required), `client`
 * originates it to `connect` (presenting the client certificate, checking the server's name).
 */
import type { CertSet } from "../lib/certs.ts";
import { hostPort, type Endpoint } from "../lib/net.ts";
import { LOOPBACK, type Place } from "../lib/place.ts";
import type { Daemon } from "../lib/process.ts";
import type { Scope } from "../lib/scope.ts";
import { startConfiguredDaemon } from "./configured-daemon.ts";

export interface HaproxyOptions {
  readonly name: string;
  readonly dir: string;
  readonly accept: Endpoint;
  readonly connect: Endpoint;
  /** Where it runs (default: this namespace, loopback only); accept and connect must be allowed there. */
  readonly place?: Place;
  readonly tls?: { readonly role: "client" | "server"; readonly certs: CertSet };
  /** tcp (default): a byte relay; http: an HTTP/1.1 proxy. */
  readonly mode?: "tcp" | "http";
}

/** haproxy takes bind/server addresses as host:port with IPv6 in brackets; the place checks the address is allowed. */
const address = (place: Place, e: Endpoint): string => hostPort(place.target(e));

const TLS13 = "ssl-min-ver TLSv1.3 ssl-max-ver TLSv1.3";

export function haproxyConfig(o: HaproxyOptions): string {
  const place = o.place ?? LOOPBACK;
  const tls = o.tls;
  const bindTls = tls?.role === "server" ? ` ssl crt ${tls.certs.server.certAndKey} ca-file ${tls.certs.caCert} verify required ${TLS13}` : "";
  const serverTls = tls?.role === "client" ? ` ssl crt ${tls.certs.client.certAndKey} ca-file ${tls.certs.caCert} verify required verifyhost ${tls.certs.serverName} sni str(${tls.certs.serverName}) ${TLS13}` : "";
  return [
    "global",
    "  nbthread 1",
    "defaults",
    `  mode ${o.mode ?? "tcp"}`,
    "  option tcp-smart-accept",
    ...(o.mode === "http" ? ["  option http-keep-alive", "  http-reuse always", "  timeout http-keep-alive 120s"] : []),
    "  timeout connect 5s",
    "  timeout client 120s",
    "  timeout server 120s",
    `frontend ${o.name}-in`,
    `  bind ${address(place, o.accept)}${bindTls}`,
    `  default_backend ${o.name}-out`,
    `backend ${o.name}-out`,
    `  server target ${address(place, o.connect)}${serverTls}`,
    "",
  ].join("\n");
}

/** Start it and wait until it listens. */
export function startHaproxy(scope: Scope, o: HaproxyOptions): Promise<Daemon> {
  return startConfiguredDaemon(scope, { name: o.name, dir: o.dir, extension: ".cfg", config: haproxyConfig(o), argv: (path) => ["haproxy", "-db", "-f", path], accept: o.accept, place: o.place });
}
