import { describe, expect, test } from "bun:test";
import { planRpFilter, rpFilterKey } from "./rp-filter.ts";

describe("planRpFilter", () => {
  const cases: Array<{ name: string; remembered: Record<string, string>; wanted: string[]; set: string[]; restore: [string, string][] }> = [
    { name: "nothing", remembered: {}, wanted: [], set: [], restore: [] },
    { name: "new interfaces are set", remembered: {}, wanted: ["sleep", "notsleep"], set: ["notsleep", "sleep"], restore: [] },
    { name: "already set: nothing", remembered: { sleep: "0" }, wanted: ["sleep"], set: [], restore: [] },
    { name: "released interfaces get their old value back", remembered: { sleep: "0", old: "2" }, wanted: ["sleep", "new"], set: ["new"], restore: [["old", "2"]] },
    { name: "close: restore all", remembered: { b: "0", a: "1" }, wanted: [], set: [], restore: [["a", "1"], ["b", "0"]] },
  ];
  for (const c of cases) {
    test(c.name, () => expect(planRpFilter(new Map(Object.entries(c.remembered)), c.wanted)).toEqual({ set: c.set, restore: c.restore }));
  }
  test("sysctl keys spell a dot in an interface name as a slash", () => {
    expect(rpFilterKey("eth0")).toBe("net.ipv4.conf.eth0.rp_filter");
    expect(rpFilterKey("br-lan.10")).toBe("net.ipv4.conf.br-lan/10.rp_filter");
  });
});
