/** `mesh version`: version, git commit and runtime. */
import type { Command } from "../command.ts";
import { buildInfo, formatBuildInfo } from "../build-info.ts";

export const versionCommand: Command = {
  name: "version",
  summary: "print the version, git commit and runtime",
  options: [{ name: "output", short: "o", type: "enum", values: ["text", "json"], default: "text", description: "output format" }],
  run: async ({ rt, options, out }) => {
    const info = buildInfo(rt);
    out(options.output === "json" ? JSON.stringify(info) : formatBuildInfo(info));
    return 0;
  },
};
