/**
 * Structured logging. A Logger belongs to a component; lines are JSON (one object per line) or
 * text in ztunnel's shape: `<time> <level> <component> <message> key=value ...`. Levels are held
 * by a shared LogControl so the admin endpoint can change them at runtime for every logger at once.
 */
import { type LevelSpec, LEVEL_RANK, type LogLevel, levelFor, parseLevelSpec, formatLevelSpec } from "./log-level.ts";

export type LogFormat = "json" | "text";
export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  readonly component: string;
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  enabled(level: LogLevel): boolean;
  child(component: string): Logger;
}

export interface LogControl {
  readonly format: LogFormat;
  spec(): string;
  /** Replace the level spec (e.g. "info,xds=debug"); throws on a bad spec and keeps the old one. */
  setSpec(spec: string): void;
  logger(component: string): Logger;
}

export function createLogControl(options: {
  format: LogFormat;
  spec: string;
  write?: (line: string) => void;
  now?: () => Date;
}): LogControl {
  let spec: LevelSpec = parseLevelSpec(options.spec);
  const write = options.write ?? ((line: string) => process.stderr.write(line + "\n"));
  const now = options.now ?? (() => new Date());
  const format = options.format === "json" ? formatJson : formatText;

  const make = (component: string): Logger => {
    const enabled = (level: LogLevel) => LEVEL_RANK[level] >= LEVEL_RANK[levelFor(spec, component)];
    const emit = (level: LogLevel) => (message: string, fields?: LogFields) => {
      if (enabled(level)) write(format(now(), level, component, message, fields ?? {}));
    };
    return {
      component,
      debug: emit("debug"),
      info: emit("info"),
      warn: emit("warn"),
      error: emit("error"),
      enabled,
      child: (sub) => make(`${component}.${sub}`),
    };
  };

  return {
    format: options.format,
    spec: () => formatLevelSpec(spec),
    setSpec: (next) => {
      spec = parseLevelSpec(next);
    },
    logger: make,
  };
}

function fieldValue(value: unknown): unknown {
  if (value instanceof Error) return value.message;
  if (typeof value === "bigint") return value.toString();
  return value;
}

export function formatJson(time: Date, level: LogLevel, component: string, message: string, fields: LogFields): string {
  const record: Record<string, unknown> = { time: time.toISOString(), level, component, msg: message };
  for (const [k, v] of Object.entries(fields)) if (!(k in record)) record[k] = fieldValue(v);
  return JSON.stringify(record);
}

/** Values that are plain tokens print bare; anything with spaces, quotes or '=' is JSON-quoted. */
export function formatText(time: Date, level: LogLevel, component: string, message: string, fields: LogFields): string {
  let line = `${time.toISOString()} ${level} ${component} ${message}`;
  for (const [k, v] of Object.entries(fields)) {
    const value = fieldValue(v);
    const text = typeof value === "string" ? value : JSON.stringify(value) ?? "undefined";
    line += ` ${k}=${/^[^\s"=]+$/.test(text) ? text : JSON.stringify(text)}`;
  }
  return line;
}
