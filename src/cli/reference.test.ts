import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { CLI_REFERENCE_PATH, renderCliReference } from "./reference.ts";

test("docs/cli.md matches --help (run `npm run docs:cli` after changing a command)", () => {
  expect(readFileSync(CLI_REFERENCE_PATH, "utf8")).toBe(renderCliReference());
});
