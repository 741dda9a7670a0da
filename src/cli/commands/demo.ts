/** `mesh demo`: a local demo mesh on loopback, no root needed. */
import type { Command } from "../command.ts";
import { notBuiltYet } from "../not-built.ts";

export const demoCommand: Command = {
  name: "demo",
  summary: "run a local demo mesh on loopback (control plane, two ztunnels, sample workloads)",
  options: [
    { name: "check", type: "bool", description: "run the walk-through non-interactively and exit non-zero if a step misbehaves" },
  ],
  run: notBuiltYet("mesh demo", "the ztunnel issue"),
};
