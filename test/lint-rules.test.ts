/** The architecture's lint rules, checked with ESLint itself: runtime APIs only in src/runtime/; imports follow the layout; plugins import only src/plugin-api. */
import { describe, expect, test } from "bun:test";
import { ESLint } from "eslint";

const eslint = new ESLint({ cwd: new URL("..", import.meta.url).pathname });

async function ruleIds(code: string, filePath: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).map((m) => m.ruleId ?? "parse-error");
}

describe("runtime APIs stay in src/runtime/", () => {
  const cases: Array<[string, string, string, string[]]> = [
    ["Bun global in core", "src/cli/x.ts", "export const v = Bun.version;\n", ["no-restricted-globals"]],
    ["Deno global in core", "src/cli/x.ts", "export const v = Deno.pid;\n", ["no-restricted-globals"]],
    ["Deno through globalThis", "src/cli/x.ts", "export const d = (globalThis as { Deno?: unknown }).Deno;\n", ["no-restricted-syntax"]],
    ["bun:sqlite import in core", "src/cli/x.ts", 'import { Database } from "bun:sqlite";\nexport const d = Database;\n', ["no-restricted-imports"]],
    ["bun:ffi import in a test", "src/cli/x.test.ts", 'import { dlopen } from "bun:ffi";\nexport const d = dlopen;\n', ["no-restricted-imports"]],
    ["bun:test import in a test", "src/cli/x.test.ts", 'import { test } from "bun:test";\nexport const t = test;\n', []],
    ["Bun global in the runtime adapter", "src/runtime/x.ts", "export const v = Bun.version;\n", []],
    ["bun:ffi in the runtime adapter", "src/runtime/x.ts", 'import { dlopen } from "bun:ffi";\nexport const d = dlopen;\n', []],
  ];
  for (const [name, file, code, want] of cases) {
    test(name, async () => expect(await ruleIds(code, file)).toEqual(want));
  }
});

describe("imports follow the layout (ARCHITECTURE.md §8)", () => {
  const layout = ["layout/dependency-direction"];
  const importing = (spec: string) => `import { x } from "${spec}";\nexport const y = x;\n`;
  const cases: Array<[string, string, string, string[]]> = [
    ["ztunnel imports the control plane", "src/ztunnel/x.ts", importing("../controlplane/server.ts"), layout],
    ["ztunnel imports the waypoint", "src/ztunnel/capture/x.ts", importing("../../waypoint/waypoint.ts"), layout],
    ["waypoint imports the ztunnel", "src/waypoint/x.ts", importing("../ztunnel/state.ts"), layout],
    ["waypoint imports the control plane", "src/waypoint/x.ts", importing("../controlplane/translate/snapshot.ts"), layout],
    ["control plane imports the ztunnel", "src/controlplane/xds/x.ts", importing("../../ztunnel/state.ts"), layout],
    ["a re-export counts too", "src/waypoint/x.ts", 'export { x } from "../ztunnel/state.ts";\n', layout],
    ["a dynamic import counts too", "src/waypoint/x.ts", 'export const m = import("../ztunnel/state.ts");\n', layout],
    ["shared layer imports a role", "src/hbone/x.ts", importing("../ztunnel/state.ts"), layout],
    ["shared layer imports the CLI", "src/state/x.ts", importing("../cli/options.ts"), layout],
    ["generated code outside the boundary", "src/ztunnel/x.ts", importing("../gen/mesh/xds/v1/workload_pb.ts"), layout],
    ["generated code in the state layer", "src/state/x.ts", importing("../gen/mesh/xds/v1/workload_pb.ts"), layout],
    ["policy imports telemetry (not pure)", "src/policy/x.ts", importing("../telemetry/log.ts"), layout],
    // Allowed:
    ["ztunnel imports the read model", "src/ztunnel/x.ts", importing("../state/mesh-state.ts"), []],
    ["waypoint imports hbone", "src/waypoint/x.ts", importing("../hbone/server.ts"), []],
    ["xds converts generated code", "src/xds/x.ts", importing("../gen/mesh/xds/v1/workload_pb.ts"), []],
    ["the CA client uses generated code", "src/identity/ca-client.ts", importing("../gen/istio/v1/auth/ca_pb.ts"), []],
    ["control plane handlers use generated code", "src/controlplane/xds/x.ts", importing("../../gen/mesh/xds/v1/workload_pb.ts"), []],
    ["policy reads state types", "src/policy/x.ts", importing("../state/view.ts"), []],
  ];
  for (const [name, file, code, want] of cases) {
    test(name, async () => expect(await ruleIds(code, file)).toEqual(want));
  }
});

describe("plugins import only src/plugin-api", () => {
  const use = (from: string) => `import { x } from "${from}";\nexport const y = x;\n`;
  const cases: Array<[string, string, string, string[]]> = [
    ["the plugin API barrel", "plugins/p/filter.ts", use("../../src/plugin-api/index.ts"), []],
    ["the plugin's own files", "plugins/p/filter.ts", use("./config.ts"), []],
    ["bun:test in a plugin test", "plugins/p/filter.test.ts", use("bun:test"), []],
    ["another src/ module", "plugins/p/filter.ts", use("../../src/errors/mesh-error.ts"), ["no-restricted-imports"]],
    ["a deep import past the barrel", "plugins/p/filter.ts", use("../../src/plugin-api/compose.ts"), ["no-restricted-imports"]],
    ["a re-export of the read model", "plugins/p/filter.ts", 'export { x } from "../../src/state/view.ts";\n', ["no-restricted-imports"]],
    ["another plugin", "plugins/p/filter.ts", use("../router/config.ts"), ["no-restricted-imports"]],
    ["a package", "plugins/p/filter.ts", use("zod"), ["no-restricted-imports"]],
    ["a node: module", "plugins/p/filter.ts", use("node:fs"), ["no-restricted-imports"]],
    ["bun:test outside a test", "plugins/p/filter.ts", use("bun:test"), ["no-restricted-imports"]],
    ["bun:sqlite in a plugin test", "plugins/p/filter.test.ts", use("bun:sqlite"), ["no-restricted-imports"]],
    ["an absolute path", "plugins/p/filter.ts", use("/work/main/src/errors/mesh-error.ts"), ["no-restricted-imports"]],
    ["src/ itself may still import src/ modules", "src/cli/x.ts", use("../errors/mesh-error.ts"), []],
  ];
  for (const [name, file, code, want] of cases) {
    test(name, async () => expect(await ruleIds(code, file)).toEqual(want));
  }
});
