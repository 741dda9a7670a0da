/** A process's memory from /proc (Linux): VmRSS split into anonymous and file-backed pages, its peak, and what it dirtied. */
import { readFileSync } from "node:fs";

/** One reading of a process's memory, MiB. */
export interface MemoryReading {
  readonly rss: number;
  readonly anon: number;
  readonly file: number;
  readonly hwm: number;
  /** Private_Dirty from smaps_rollup: what the process wrote (heap, stacks, allocator arenas). */
  readonly privateDirty: number;
}

function fields(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^(\w+):\s+(\d+) kB$/gm)) out.set(m[1] as string, Number(m[2]) / 1024);
  return out;
}

export function readMemory(pid: number): MemoryReading {
  const status = fields(readFileSync(`/proc/${pid}/status`, "utf8"));
  const rollup = fields(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
  return {
    rss: status.get("VmRSS") ?? NaN,
    anon: status.get("RssAnon") ?? NaN,
    file: status.get("RssFile") ?? NaN,
    hwm: status.get("VmHWM") ?? NaN,
    privateDirty: rollup.get("Private_Dirty") ?? NaN,
  };
}
