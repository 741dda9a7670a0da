/** The baseline: the load tool connects straight to the backend. */
import type { TrafficPath } from "./path.ts";

export const direct: TrafficPath = {
  name: "direct",
  description: "load tool straight to the backend on loopback",
  tools: [],
  start: async (_ctx, target) => ({ address: target, cpuGroups: [] }),
};
