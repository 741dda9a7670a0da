/** Samples a process's resident set size (VmRSS in /proc/<pid>/status) until stopped; counts its open files. */
import { readdirSync, readFileSync } from "node:fs";

export function openFiles(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

export function rssBytes(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmRSS:")) ?? "";
  return Number(line.replace(/\D+/g, "")) * 1024;
}

export interface RssSampler {
  /** Stops sampling; the largest value seen, in bytes. */
  stop(): number;
}

export function sampleRss(pid: number, intervalMs = 100): RssSampler {
  let max = rssBytes(pid);
  const timer = setInterval(() => {
    try {
      max = Math.max(max, rssBytes(pid));
    } catch {
      // the process is gone; the test's own checks report that
    }
  }, intervalMs);
  return {
    stop: () => {
      clearInterval(timer);
      return max;
    },
  };
}

export const MiB = 1024 * 1024;
