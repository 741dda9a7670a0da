/**
 * Runs a scenario's measurement once per selected path, in order, each in its own scope: a path's
 * processes are stopped before the next path starts, so paths never compete for the CPU.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { groupCpuSeconds } from "../lib/cpu.ts";
import { loopback, type Endpoint } from "../lib/net.ts";
import type { Row } from "../lib/rows.ts";
import { withScope } from "../lib/scope.ts";
import type { ScenarioContext } from "../scenarios/scenario.ts";

export interface PathSession {
  readonly path: string;
  /** Where to point the load tool. */
  readonly address: Endpoint;
  /** CPU seconds used so far by the path's proxy processes (0 for a path without any). */
  proxyCpuSeconds(): number;
}

export type Measurement = Omit<Row, "path">;

export async function measurePaths(
  ctx: ScenarioContext,
  target: Endpoint,
  measure: (session: PathSession) => Promise<readonly Measurement[]>,
): Promise<Row[]> {
  const rows: Row[] = [];
  for (const path of ctx.paths) {
    const dir = join(ctx.tmpDir, path.name);
    mkdirSync(dir, { recursive: true });
    const log = (message: string): void => ctx.log(`${path.name}: ${message}`);
    const measurements = await withScope(async (scope) => {
      const setup = await path.start({ scope, dir, certs: ctx.certs, log }, loopback(target));
      const session: PathSession = {
        path: path.name,
        address: loopback(setup.address),
        proxyCpuSeconds: () => groupCpuSeconds(setup.cpuGroups),
      };
      return measure(session);
    });
    for (const m of measurements) {
      rows.push({ path: path.name, ...m });
      log(`${m.metric} = ${m.value.toFixed(3)} ${m.unit}`);
    }
  }
  return rows;
}
