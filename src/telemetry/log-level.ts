/**
 * Log levels and the level spec operators write, in the RUST_LOG style ztunnel users know:
 * `info`, or `info,xds=debug,hbone=warn` (a default plus per-component overrides).
 */
import { MeshError } from "../errors/mesh-error.ts";

export const LOG_LEVELS = ["debug", "info", "warn", "error", "off"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, off: 100 };

export interface LevelSpec {
  readonly defaultLevel: LogLevel;
  readonly components: Readonly<Record<string, LogLevel>>;
}

function asLevel(text: string, where: string): LogLevel {
  const level = text.trim().toLowerCase();
  if ((LOG_LEVELS as readonly string[]).includes(level)) return level as LogLevel;
  throw new MeshError("invalid_argument", `${where}: unknown log level "${text}"`, {
    detail: { accepted: LOG_LEVELS },
  });
}

export function parseLevelSpec(spec: string): LevelSpec {
  let defaultLevel: LogLevel = "info";
  const components: Record<string, LogLevel> = {};
  for (const part of spec.split(",").map((p) => p.trim()).filter((p) => p !== "")) {
    const eq = part.indexOf("=");
    if (eq < 0) {
      defaultLevel = asLevel(part, "log level");
      continue;
    }
    const component = part.slice(0, eq).trim();
    if (!/^[a-z][a-z0-9_.-]*$/i.test(component)) {
      throw new MeshError("invalid_argument", `log level: bad component name "${component}"`);
    }
    components[component] = asLevel(part.slice(eq + 1), `log level for ${component}`);
  }
  return { defaultLevel, components };
}

export function formatLevelSpec(spec: LevelSpec): string {
  return [spec.defaultLevel, ...Object.entries(spec.components).map(([c, l]) => `${c}=${l}`)].join(",");
}

/** The level in force for a component: its own override, else its parent's (`xds.client` → `xds`), else the default. */
export function levelFor(spec: LevelSpec, component: string): LogLevel {
  for (let name = component; name !== ""; name = name.includes(".") ? name.slice(0, name.lastIndexOf(".")) : "") {
    const level = spec.components[name];
    if (level) return level;
  }
  return spec.defaultLevel;
}
