/** The architecture's lint rule, checked with ESLint itself: runtime APIs only in src/runtime/. */
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
