/**
 * CPU time of process groups, from /proc/<pid>/stat (Linux). A group's time is the sum over its
 * live members of utime + stime + cutime + cstime, so children the leader has reaped still count;
 * members that exited unreaped during a measurement are lost (none of our proxies do that).
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

let ticksPerSecond: number | null = null;

function clockTicks(): number {
  if (ticksPerSecond === null) {
    try {
      ticksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** Fields after the "(comm)" of a stat line, numbered so that fields[0] is field 3 (state). */
function statFields(pid: string): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return null; // exited between readdir and read
  }
}

/** Total CPU seconds used so far by every live process in the given process groups. */
export function groupCpuSeconds(pgids: readonly number[]): number {
  if (pgids.length === 0) return 0;
  const wanted = new Set(pgids);
  let ticks = 0;
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    const f = statFields(pid);
    if (!f || !wanted.has(Number(f[2]))) continue; // field 5: pgrp
    ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]); // fields 14-17
  }
  return ticks / clockTicks();
}
