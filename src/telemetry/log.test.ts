import { describe, expect, test } from "bun:test";
import { createLogControl, formatText } from "./log.ts";
import { levelFor, parseLevelSpec } from "./log-level.ts";

describe("parseLevelSpec", () => {
  const good: Array<[string, string, Record<string, string>]> = [
    ["", "info", {}],
    ["debug", "debug", {}],
    ["warn,xds=debug", "warn", { xds: "debug" }],
    [" info , hbone = error ", "info", { hbone: "error" }],
    ["xds.client=off", "info", { "xds.client": "off" }],
  ];
  for (const [input, def, comps] of good) {
    test(`accepts ${JSON.stringify(input)}`, () => {
      expect(parseLevelSpec(input)).toEqual({ defaultLevel: def as "info", components: comps as Record<string, "info"> });
    });
  }
  for (const bad of ["verbose", "xds=loud", "=debug", "x y=info"]) {
    test(`refuses ${JSON.stringify(bad)} naming the accepted levels`, () => {
      expect(() => parseLevelSpec(bad)).toThrow(/log level/);
    });
  }
});

describe("levelFor", () => {
  const spec = parseLevelSpec("warn,xds=debug,xds.cache=error");
  const cases: Array<[string, string]> = [
    ["ztunnel", "warn"],
    ["xds", "debug"],
    ["xds.client", "debug"],
    ["xds.cache", "error"],
    ["xds.cache.lru", "error"],
    ["xdsx", "warn"],
  ];
  for (const [component, level] of cases) test(component, () => expect(levelFor(spec, component)).toBe(level as "warn"));
});

describe("LogControl", () => {
  const at = new Date("2026-01-02T03:04:05.678Z");
  test("filters by component level and changes at runtime", () => {
    const lines: string[] = [];
    const control = createLogControl({ format: "json", spec: "info", write: (l) => lines.push(l), now: () => at });
    const log = control.logger("xds");
    log.debug("hidden");
    log.info("shown", { n: 1n, err: new Error("bad") });
    control.setSpec("info,xds=debug");
    log.child("client").debug("now shown");
    expect(lines.map((l) => JSON.parse(l))).toEqual([
      { time: at.toISOString(), level: "info", component: "xds", msg: "shown", n: "1", err: "bad" },
      { time: at.toISOString(), level: "debug", component: "xds.client", msg: "now shown" },
    ]);
    expect(control.spec()).toBe("info,xds=debug");
  });
  test("a bad spec is refused and the old one kept", () => {
    const control = createLogControl({ format: "text", spec: "warn", write: () => {} });
    expect(() => control.setSpec("shouty")).toThrow();
    expect(control.spec()).toBe("warn");
  });
  test("text format quotes only what needs quoting", () => {
    expect(formatText(at, "info", "access", "connection complete", { "src.addr": "10.0.0.1:42", src: 'a "b"', bytes: 79, ok: true })).toBe(
      `${at.toISOString()} info access connection complete src.addr=10.0.0.1:42 src="a \\"b\\"" bytes=79 ok=true`,
    );
  });
});
