/** `mesh waypoint`: the L7 proxy for a set of destinations. */
import type { Command } from "../command.ts";
import { notBuiltYet } from "../not-built.ts";

export const waypointCommand: Command = {
  name: "waypoint",
  summary: "run an L7 waypoint proxy for a Gateway of class istio-waypoint",
  options: [
    { name: "gateway", type: "string", arg: "NS/NAME", required: true, description: "the Gateway resource this waypoint serves" },
    { name: "control-plane", type: "address", arg: "HOST:PORT", required: true, description: "control plane xDS address, HOST:PORT" },
    { name: "token-file", type: "string", arg: "FILE", required: true, description: "node token (mesh token create --node NAME)" },
  ],
  run: notBuiltYet("mesh waypoint", "a later waypoint issue"),
};
