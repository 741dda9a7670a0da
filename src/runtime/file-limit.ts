/**
 * Raising the process's soft limit on open files (RLIMIT_NOFILE) to its hard limit, shared by the
 * adapters: they bind libc's getrlimit/setrlimit through their FFI, this module does the rest.
 * struct rlimit is two 64-bit unsigned integers (soft, hard) on Linux x86_64 and arm64.
 * An unlimited hard limit (RLIM_INFINITY) cannot be the soft limit of RLIMIT_NOFILE: the kernel's
 * ceiling (fs.nr_open) is used instead.
 */
import { readFileSync } from "node:fs";
import { MeshError } from "../errors/mesh-error.ts";
import type { FileLimit } from "./port.ts";

export const RLIMIT_NOFILE = 7;
const RLIM_INFINITY = 0xffff_ffff_ffff_ffffn;

/** libc's getrlimit or setrlimit: (resource, struct rlimit*) → 0 or -1. */
export type RlimitCall = (resource: number, limits: BigUint64Array) => number;

/** The soft limit to set: the hard limit, or the kernel's ceiling when the hard limit is unlimited. */
export function softLimitTarget(hard: bigint, kernelCeiling: bigint): bigint {
  return hard === RLIM_INFINITY ? kernelCeiling : hard;
}

function kernelCeiling(): bigint {
  try {
    return BigInt(readFileSync("/proc/sys/fs/nr_open", "utf8").trim());
  } catch {
    return 1_048_576n; // the Linux default
  }
}

export function raiseFileLimitWith(getrlimit: RlimitCall, setrlimit: RlimitCall): FileLimit {
  const limits = new BigUint64Array(2);
  if (getrlimit(RLIMIT_NOFILE, limits) !== 0) throw new MeshError("internal", "getrlimit(RLIMIT_NOFILE) failed");
  const [before = 0n, hard = 0n] = limits;
  const target = softLimitTarget(hard, kernelCeiling());
  if (target > before) {
    limits[0] = target;
    if (setrlimit(RLIMIT_NOFILE, limits) !== 0) throw new MeshError("internal", `setrlimit(RLIMIT_NOFILE, ${target}) failed`);
  }
  if (getrlimit(RLIMIT_NOFILE, limits) !== 0) throw new MeshError("internal", "getrlimit(RLIMIT_NOFILE) failed");
  const toNumber = (n: bigint | undefined) => (n === undefined || n >= RLIM_INFINITY ? Number.POSITIVE_INFINITY : Number(n));
  return { before: toNumber(before), soft: toNumber(limits[0]), hard: toNumber(limits[1]) };
}
