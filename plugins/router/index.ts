/**
 * The first-party router plugin: Gateway API HTTPRoute and GRPCRoute for waypoints, plus the
 * mesh.dev HTTPFault extension (fault injection). Imports only the plugin API. See docs/plugins.md.
 */
import { definePlugin } from "../../src/plugin-api/index.ts";
import { parseRouterConfig, type RouterConfig } from "./config.ts";
import { createRouter } from "./filter.ts";

export const routerPlugin = definePlugin<RouterConfig>({
  name: "router",
  version: "1.0.0",
  parseConfig: parseRouterConfig,
  create: createRouter,
});

export { decideRoute } from "./decide.ts";
export type { Decision, RouteRequest } from "./decide.ts";
export type { RouterConfig } from "./config.ts";
