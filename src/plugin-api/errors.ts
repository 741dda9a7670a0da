/**
 * How a plugin refuses its config: a PluginConfigError names the field (a dotted path into the
 * raw config, e.g. `routes[2].rules[0].matches[1].path.value`) and says what would be accepted.
 * It is a MeshError (code invalid_argument), so the waypoint reports it like any bad input: a
 * NACK for the one resource, never a crash.
 */
import { MeshError } from "../errors/mesh-error.ts";

export class PluginConfigError extends MeshError {
  readonly path: string;

  constructor(path: string, message: string) {
    super("invalid_argument", path === "" ? message : `${path}: ${message}`, { detail: { path } });
    this.path = path;
  }
}

/** A refusal as data: what buildChain reports for each plugin whose config it could not use. */
export interface ConfigRefusal {
  /** Which chain entry (its name, e.g. "FilterPlugin ns/name"). */
  readonly source: string;
  readonly path: string;
  readonly message: string;
}
