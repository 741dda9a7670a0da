import { describe, expect, test } from "bun:test";
import type { WorkloadView } from "../state/view.ts";
import { OutlierDetector } from "./outlier.ts";
import type { UpstreamHop } from "./upstream-plan.ts";

const hop = (address: string): UpstreamHop => ({ workload: { name: address } as WorkloadView, target: { address, port: 9080 } });
const [a, b, c, d] = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"].map(hop) as [UpstreamHop, UpstreamHop, UpstreamHop, UpstreamHop];
const addresses = (hops: readonly UpstreamHop[]) => hops.map((h) => h.target.address);

describe("outlier detection", () => {
  test("five consecutive gateway failures eject an endpoint to the end of the order, for 30 s", () => {
    let now = 0;
    const o = new OutlierDetector({}, () => now);
    for (let i = 0; i < 4; i++) o.record(a, "connect-failure");
    expect(addresses(o.order([a, b]))).toEqual(["10.0.0.1", "10.0.0.2"]);
    o.record(a, 503);
    expect(addresses(o.order([a, b]))).toEqual(["10.0.0.2", "10.0.0.1"]);
    expect(o.ejected()).toEqual(["10.0.0.1"]);
    now = 30_001;
    expect(addresses(o.order([a, b]))).toEqual(["10.0.0.1", "10.0.0.2"]);
  });
  test("a success resets the count; 500, 404 and 200 are not gateway failures", () => {
    const o = new OutlierDetector({}, () => 0);
    for (const outcome of [503, 503, 503, 503, 200, 503, 500, 404, 503, 503, 503]) o.record(a, outcome);
    expect(o.ejected()).toEqual([]);
  });
  test("each ejection lasts longer (base × count), up to the cap", () => {
    let now = 0;
    const o = new OutlierDetector({ consecutiveFailures: 1, baseEjectionMs: 10, maxEjectionMs: 25 }, () => now);
    const ejectedAt = (t: number) => ((now = t), o.ejected().length > 0);
    o.record(a, "connect-failure"); // at 0: until 10
    expect([ejectedAt(9), ejectedAt(10)]).toEqual([true, false]);
    o.record(a, "connect-failure"); // at 10: until 30
    expect([ejectedAt(29), ejectedAt(30)]).toEqual([true, false]);
    o.record(a, "connect-failure"); // at 30: 3 × 10 capped at 25, until 55
    expect([ejectedAt(54), ejectedAt(55)]).toEqual([true, false]);
  });
  test("at most half of a destination's endpoints are moved: a request always has somewhere to go", () => {
    const o = new OutlierDetector({ consecutiveFailures: 1 }, () => 0);
    for (const h of [a, b, c]) o.record(h, "connect-failure");
    expect(addresses(o.order([a, b, c, d]))).toEqual(["10.0.0.3", "10.0.0.4", "10.0.0.1", "10.0.0.2"]);
    expect(addresses(o.order([a]))).toEqual(["10.0.0.1"]);
  });
  test("endpoints that left the mesh are forgotten", () => {
    const o = new OutlierDetector({ consecutiveFailures: 1 }, () => 0);
    o.record(a, "connect-failure");
    o.keepOnly(new Set(["10.0.0.2"]));
    expect(o.ejected()).toEqual([]);
  });
});
