/** Every `mesh` command, in the order help lists them. */
import type { Command } from "./command.ts";
import { caCommand } from "./commands/ca.ts";
import { controlPlaneCommand } from "./commands/control-plane.ts";
import { demoCommand } from "./commands/demo.ts";
import { applyCommand, deleteCommand, getCommand } from "./commands/resources.ts";
import { tokenCommand } from "./commands/token.ts";
import { versionCommand } from "./commands/version.ts";
import { waypointCommand } from "./commands/waypoint.ts";
import { ztunnelCommand } from "./commands/ztunnel.ts";
import { ztunnelConfigCommand } from "./commands/ztunnel-config.ts";

export const COMMANDS: readonly Command[] = [
  demoCommand,
  controlPlaneCommand,
  ztunnelCommand,
  ztunnelConfigCommand,
  waypointCommand,
  applyCommand,
  getCommand,
  deleteCommand,
  tokenCommand,
  caCommand,
  versionCommand,
];

export function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
}
