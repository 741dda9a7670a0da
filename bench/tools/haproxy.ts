/**
 * One haproxy process in the foreground relaying TCP (mode tcp, one thread, Nagle off both ways)
 * from `accept` to `connect`, with a generated config. It logs nothing but its own start-up
 * errors (stderr, in the given directory).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Endpoint } from "../lib/net.ts";
import { LOOPBACK, type Place } from "../lib/place.ts";
import { startDaemon, type Daemon } from "../lib/process.ts";
import type { Scope } from "../lib/scope.ts";

export interface HaproxyOptions {
  readonly name: string;
  readonly dir: string;
  readonly accept: Endpoint;
  readonly connect: Endpoint;
  /** Where it runs (default: this namespace, loopback only); accept and connect must be allowed there. */
  readonly place?: Place;
}

/** haproxy wants IPv6 addresses in brackets on bind/server lines, like host:port elsewhere. */
const address = (place: Place, e: Endpoint): string => {
  const host = place.target(e).host;
  return `${host.includes(":") ? `[${host}]` : host}:${e.port}`;
};

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

/** Start it and wait until it listens (without a probe connection, which would reach the backend). */
export async function startHaproxy(scope: Scope, o: HaproxyOptions): Promise<Daemon> {
  const conf = join(o.dir, `${o.name}.cfg`);
  writeFileSync(conf, haproxyConfig(o));
  const place = o.place ?? LOOPBACK;
  const daemon = await startDaemon(scope, o.name, place.exec(["haproxy", "-db", "-f", conf]), { logPath: join(o.dir, `${o.name}.log`) });
  await place.waitForListen(o.accept, {
    timeoutMs: 10_000,
    giveUp: () => (daemon.exit() ? `${o.name} exited: ${daemon.logTail()}` : null),
  });
  return daemon;
}
