/**
 * The baselines: the load tool connects straight to the backend. `direct` on loopback;
 * `netns-direct` from the sleep namespace to productpage's address, routed through node-1, the
 * LAN bridge and node-2 with no proxy and no capture — the same hops the netns paths take.
 */
import { netnsUnavailable } from "../lib/testbed.ts";
import type { TrafficPath } from "./path.ts";

export const direct: TrafficPath = {
  name: "direct",
  description: "load tool straight to the backend on loopback",
  tools: [],
  start: async (_ctx, target) => ({ address: target, cpuGroups: [] }),
};

export const netnsDirect: TrafficPath = {
  name: "netns-direct",
  description: "load tool in the sleep namespace straight to productpage (10.0.2.10), routed through node-1 and node-2, no proxy",
  tools: ["ip"],
  testbed: "netns",
  unavailable: netnsUnavailable,
  start: async (_ctx, target) => ({ address: target, cpuGroups: [] }),
};
