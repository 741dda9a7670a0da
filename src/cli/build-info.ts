/**
 * What `mesh version` reports. The commit is inlined at compile time (`bun build --env MESH_BUILD_*`);
 * when run from source it is read from the environment, or reported as "dev".
 */
import type { RuntimePort } from "../runtime/port.ts";
import pkg from "../../package.json" with { type: "json" };

export interface BuildInfo {
  readonly version: string;
  readonly commit: string;
  readonly runtime: string;
  readonly platform: string;
}

export function buildInfo(rt: RuntimePort): BuildInfo {
  return {
    version: pkg.version,
    commit: process.env.MESH_BUILD_COMMIT || "dev",
    runtime: `${rt.name} ${rt.version}`,
    platform: `${process.platform}/${process.arch}`,
  };
}

export function formatBuildInfo(info: BuildInfo): string {
  return `mesh ${info.version} (commit ${info.commit}, ${info.runtime}, ${info.platform})`;
}
