/**
 * One haproxy process in the foreground relaying TCP (mode tcp, one thread, Nagle off both ways)
 * from `accept` to `connect`, with a generated config. It logs nothing but its own start-up
 * errors (stderr, in the given directory).
 */
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
}

/** haproxy takes bind/server addresses as host:port with IPv6 in brackets; the place checks the address is allowed. */
const address = (place: Place, e: Endpoint): string => hostPort(place.target(e));

export function haproxyConfig(o: HaproxyOptions): string {
  const place = o.place ?? LOOPBACK;
  return [
    "global",
    "  nbthread 1",
    "defaults",
    "  mode tcp",
    "  option tcp-smart-accept",
    "  timeout connect 5s",
    "  timeout client 120s",
    "  timeout server 120s",
    `frontend ${o.name}-in`,
    `  bind ${address(place, o.accept)}`,
    `  default_backend ${o.name}-out`,
    `backend ${o.name}-out`,
    `  server target ${address(place, o.connect)}`,
    "",
  ].join("\n");
}

/** Start it and wait until it listens. */
export function startHaproxy(scope: Scope, o: HaproxyOptions): Promise<Daemon> {
  return startConfiguredDaemon(scope, { name: o.name, dir: o.dir, extension: ".cfg", config: haproxyConfig(o), argv: (path) => ["haproxy", "-db", "-f", path], accept: o.accept, place: o.place });
}
