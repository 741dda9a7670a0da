/** Whether commands are on PATH, checked without running them. */
import { accessSync, constants } from "node:fs";
import { join } from "node:path";

export function onPath(command: string): boolean {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (!dir) continue;
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

export function missingCommands(commands: Iterable<string>): string[] {
  return [...new Set(commands)].filter((c) => !onPath(c));
}
