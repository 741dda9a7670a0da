/**
 * The CLI reference in docs/cli.md, rendered from the same command table as --help so the two
 * cannot disagree (a test checks the committed file). `bun run src/cli/reference.ts --write`
 * rewrites it.
 */
import { writeFileSync } from "node:fs";
import { commandHelp, mainHelp } from "./help.ts";
import { COMMANDS } from "./registry.ts";

export const CLI_REFERENCE_PATH = new URL("../../docs/cli.md", import.meta.url).pathname;

export function renderCliReference(): string {
  const parts = [
    "# mesh CLI reference",
    "",
    "Generated from the command table (`npm run docs:cli`); `mesh <command> --help` prints the same text.",
    "Exit codes: 0 success, 1 internal error, 2 usage error (unknown flag, bad or missing value),",
    "3 not built yet, 4 not found, 5 conflict, 6 permission denied, 7 failed precondition,",
    "8 resource exhausted, 9 unavailable or timed out, 130 interrupted.",
    "",
    "## mesh",
    "",
    "```text",
    mainHelp(),
    "```",
  ];
  for (const c of COMMANDS) {
    for (const one of [c, ...(c.subcommands ?? [])]) parts.push("", `## mesh ${one.name}`, "", "```text", commandHelp(one), "```");
  }
  return parts.join("\n") + "\n";
}

if (import.meta.main && process.argv.includes("--write")) {
  writeFileSync(CLI_REFERENCE_PATH, renderCliReference());
  console.log(`wrote ${CLI_REFERENCE_PATH}`);
}
