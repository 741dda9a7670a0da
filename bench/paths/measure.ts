/**
 * Runs a scenario's measurement once per selected path, in order, each in its own scope: a path's
 * processes are stopped before the next path starts, so paths never compete for the CPU.
 *
 * Testbeds and backends are made on first use and kept for the scenario (ctx.scope): the netns
 * topology is built once, before the first netns path, and its backend started in the productpage
 * namespace; loopback paths share one backend on 127.0.0.1.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { groupCpuSeconds } from "../lib/cpu.ts";
import type { Endpoint } from "../lib/net.ts";
import type { Place } from "../lib/place.ts";
import type { Row } from "../lib/rows.ts";
import { type Scope, withScope } from "../lib/scope.ts";
import { buildNetnsTestbed, LOOPBACK_TESTBED, type Testbed, type TestbedKind } from "../lib/testbed.ts";
import type { ScenarioContext } from "../scenarios/scenario.ts";
import { testbedOf } from "./index.ts";
import type { ProxyProcess } from "./path.ts";

export interface PathSession {
  readonly path: string;
  readonly testbed: Testbed;
  /** Where to point the load tool. */
  readonly address: Endpoint;
  /** Where the load tool runs (pass it to the tool wrappers). */
  readonly client: Place;
  /** The path's proxies one by one (empty for a path without any). */
  readonly proxies: readonly ProxyProcess[];
  /** CPU seconds used so far by the path's proxy processes (0 for a path without any). */
  proxyCpuSeconds(): number;
}

export type Measurement = Omit<Row, "path">;

/** Starts the scenario's backend on a testbed (in server's place, bound to server.address); lives until scope closes. */
export type StartBackend = (testbed: Testbed, scope: Scope, dir: string) => Promise<Endpoint>;

/** Lazily built testbeds and their backends, for the scenario's lifetime. */
export class Testbeds {
  readonly #beds = new Map<TestbedKind, Promise<Testbed>>();
  readonly #backends = new Map<TestbedKind, Promise<Endpoint>>();
  readonly #ctx: ScenarioContext;
  constructor(ctx: ScenarioContext) {
    this.#ctx = ctx;
  }

  testbed(kind: TestbedKind): Promise<Testbed> {
    let bed = this.#beds.get(kind);
    if (!bed) {
      bed = kind === "loopback" ? Promise.resolve(LOOPBACK_TESTBED) : buildNetnsTestbed(this.#ctx.scope, this.#ctx.log);
      this.#beds.set(kind, bed);
    }
    return bed;
  }

  backend(kind: TestbedKind, start: StartBackend): Promise<Endpoint> {
    let backend = this.#backends.get(kind);
    if (!backend) {
      const dir = join(this.#ctx.tmpDir, `backend-${kind}`);
      mkdirSync(dir, { recursive: true });
      backend = this.testbed(kind).then((bed) => start(bed, this.#ctx.scope, dir));
      this.#backends.set(kind, backend);
    }
    return backend;
  }
}

export async function measurePaths(
  ctx: ScenarioContext,
  startBackend: StartBackend,
  measure: (session: PathSession) => Promise<readonly Measurement[]>,
): Promise<Row[]> {
  const beds = new Testbeds(ctx);
  const rows: Row[] = [];
  for (const path of ctx.paths) {
    const dir = join(ctx.tmpDir, path.name);
    mkdirSync(dir, { recursive: true });
    const log = (message: string): void => ctx.log(`${path.name}: ${message}`);
    const kind = testbedOf(path);
    const testbed = await beds.testbed(kind);
    const target = testbed.server.target(await beds.backend(kind, startBackend));
    const measurements = await withScope(async (scope) => {
      const setup = await path.start({ scope, dir, testbed, certs: ctx.certs, log }, target);
      const session: PathSession = {
        path: path.name,
        testbed,
        address: testbed.client.target(setup.address),
        client: testbed.client,
        proxies: setup.proxies ?? [],
        proxyCpuSeconds: () => groupCpuSeconds(setup.cpuGroups),
      };
      const out = await measure(session);
      const rejected = (await setup.verify?.()) ?? null;
      if (rejected) throw new Error(`${path.name}: ${rejected}`);
      return out;
    });
    for (const m of measurements) {
      rows.push({ path: path.name, ...m });
      log(`${m.metric} = ${m.value.toFixed(3)} ${m.unit}`);
    }
  }
  return rows;
}
