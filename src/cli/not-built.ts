/** A command that is declared (flags, help) but whose role is not built yet: it says so and fails. */
import { MeshError } from "../errors/mesh-error.ts";
import type { Command } from "./command.ts";

export function notBuiltYet(what: string, tracking: string): Command["run"] {
  return async () => {
    throw new MeshError("unimplemented", `${what} is not built yet (${tracking}); nothing was started`);
  };
}
