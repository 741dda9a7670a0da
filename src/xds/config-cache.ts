/**
 * The last good xDS config on disk, so a restarted proxy serves it even when the control plane is
 * down. Raw resource bytes are kept (decoded again on load, so a newer proxy reads an older file),
 * written atomically (temporary file, then rename) so a crash never leaves half a file.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

export interface CachedResource {
  readonly version: string;
  readonly bytes: Uint8Array;
}

export type CachedConfig = Map<string, Map<string, CachedResource>>;

interface FileShape {
  readonly format: 1;
  readonly types: Record<string, Record<string, { version: string; bytes: string }>>;
}

export function loadConfigCache(path: string): CachedConfig {
  let parsed: FileShape;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8")) as FileShape;
  } catch {
    return new Map(); // none yet, or unreadable: start empty and let the server fill it
  }
  if (parsed?.format !== 1 || typeof parsed.types !== "object") return new Map();
  const out: CachedConfig = new Map();
  for (const [typeUrl, byName] of Object.entries(parsed.types)) {
    const m = new Map<string, CachedResource>();
    for (const [name, r] of Object.entries(byName ?? {})) {
      if (typeof r?.version === "string" && typeof r.bytes === "string") m.set(name, { version: r.version, bytes: Buffer.from(r.bytes, "base64") });
    }
    out.set(typeUrl, m);
  }
  return out;
}

export function saveConfigCache(path: string, config: CachedConfig): void {
  const types: FileShape["types"] = {};
  for (const [typeUrl, byName] of config) {
    types[typeUrl] = {};
    for (const [name, r] of byName) types[typeUrl][name] = { version: r.version, bytes: Buffer.from(r.bytes).toString("base64") };
  }
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify({ format: 1, types } satisfies FileShape));
  renameSync(tmp, path);
}
