/**
 * The control plane and the router agree on what an HTTPFault is: a seeded stream of specs near
 * the limits (statuses, shares, durations, missing and extra fields) is accepted by the HTTPFault
 * kind exactly when the router plugin's parseConfig accepts it as a `faults` entry, so nothing
 * stored is refused at the waypoint and nothing the waypoint could run is refused on write.
 */
import { describe, expect, test } from "bun:test";
import { parseRouterConfig } from "../../../../plugins/router/config.ts";
import { mulberry32, SeededGen } from "../../../../test/support/seeded-random.ts";
import { validateDocument } from "../validate.ts";

const STATUSES = [undefined, -1, 0, 1, 16, 17, 199, 200, 404, 503, 599, 600, 503.5, "503", null];
const SHARES = [undefined, -0.1, 0, 0.5, 50, 100, 100.01, "50", null, Number.NaN];
const DURATIONS = [undefined, "0s", "2s", "500ms", "1h30m", "1.5s", "2", "", "123456s", "1h1m1s1ms", "1h1m1s1ms1h", 2, null];

function fieldsOf(g: SeededGen, fields: Record<string, readonly unknown[]>): Record<string, unknown> | undefined {
  if (g.chance(0.25)) return undefined;
  const out: Record<string, unknown> = {};
  for (const [name, values] of Object.entries(fields)) {
    const v = g.pick(values);
    if (v !== undefined) out[name] = v;
  }
  if (g.chance(0.05)) out.percent = 5;
  return out;
}

function randomSpec(g: SeededGen): Record<string, unknown> {
  const spec: Record<string, unknown> = {};
  const delay = fieldsOf(g, { fixedDelay: DURATIONS, percentage: SHARES });
  const abort = fieldsOf(g, { httpStatus: STATUSES, grpcStatus: g.chance(0.7) ? [undefined] : STATUSES, percentage: SHARES });
  if (delay) spec.delay = delay;
  if (abort) spec.abort = abort;
  return spec;
}

const routerAccepts = (spec: unknown) => {
  try {
    parseRouterConfig({ routes: [], faults: { "bookinfo/flaky": spec } });
    return true;
  } catch {
    return false;
  }
};

describe("HTTPFault and the router", () => {
  test("accept exactly the same faults (seeded)", () => {
    const g = new SeededGen(mulberry32(15));
    const seen = { both: 0, neither: 0 };
    for (let i = 0; i < 3000; i++) {
      const spec = randomSpec(g);
      const stored = validateDocument({ apiVersion: "mesh.dev/v1", kind: "HTTPFault", metadata: { name: "flaky", namespace: "bookinfo" }, spec });
      const runs = routerAccepts(spec);
      expect({ i, spec, stored: stored.ok }).toEqual({ i, spec, stored: runs });
      // What is stored is what the waypoint gets: it must still parse after the write's normalization.
      if (stored.ok) expect(routerAccepts(stored.resource.spec)).toBe(true);
      seen[runs ? "both" : "neither"]++;
    }
    // The stream reaches both sides of the line, often.
    expect(seen.both).toBeGreaterThan(150);
    expect(seen.neither).toBeGreaterThan(300);
  });
});
