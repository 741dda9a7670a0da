/**
 * A proxy daemon started from a generated config file: the file written into the run's
 * directory, the process started in the foreground in its place (own process group, log in the
 * same directory), and ready once its accept address listens — checked without a probe
 * connection, which would travel the chain.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Endpoint } from "../lib/net.ts";
import { LOOPBACK, type Place } from "../lib/place.ts";
import { startDaemon, type Daemon } from "../lib/process.ts";
import type { Scope } from "../lib/scope.ts";

export interface ConfiguredDaemon {
  readonly name: string;
  readonly dir: string;
  /** The config file's name suffix, e.g. ".conf". */
  readonly extension: string;
  readonly config: string;
  /** The command line, given the config file's path. */
  argv(configPath: string): string[];
  readonly accept: Endpoint;
  /** Where it runs (default: this namespace, loopback only). */
  readonly place?: Place;
}

export async function startConfiguredDaemon(scope: Scope, o: ConfiguredDaemon): Promise<Daemon> {
  const configPath = join(o.dir, `${o.name}${o.extension}`);
  writeFileSync(configPath, o.config);
  const place = o.place ?? LOOPBACK;
  const daemon = await startDaemon(scope, o.name, place.exec(o.argv(configPath)), { logPath: join(o.dir, `${o.name}.log`) });
  await place.waitForListen(o.accept, {
    timeoutMs: 10_000,
    giveUp: () => (daemon.exit() ? `${o.name} exited: ${daemon.logTail()}` : null),
  });
  return daemon;
}
