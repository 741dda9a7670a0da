/**
 * Reading a `bun --cpu-prof` profile (Chrome .cpuprofile JSON): where a process's CPU went within
 * a wall-clock window. Bun samples the JS thread about every millisecond while it runs and takes
 * no sample while it idles, so a sample counts as one interval of work; time deltas are not used
 * as weights (the gap before the first sample after an idle stretch would be billed to it).
 */
import { readFileSync } from "node:fs";

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  /** µs since the Unix epoch. */
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** A bucket of the breakdown (see summarizeProfile for how a sample is assigned). */
export interface Category {
  readonly name: string;
  readonly test: (frame: CallFrame) => boolean;
}

export interface ProfileSummary {
  readonly samples: number;
  readonly intervalMs: number;
  /** Share of samples per category (inclusive: the innermost matching frame decides), largest first. */
  readonly categories: readonly { readonly name: string; readonly share: number }[];
  /** Functions by self samples, largest first. */
  readonly hot: readonly { readonly fn: string; readonly share: number }[];
}

function label(frame: CallFrame, root: string): string {
  const where = frame.url === "" ? "native" : `${frame.url.replace(/^file:\/\//, "").replace(root, "")}:${frame.lineNumber + 1}`;
  return `${frame.functionName || "(anonymous)"} ${where}`;
}

/**
 * Summarize the samples taken between fromMs and toMs (Unix epoch ms). `tiers` are tried in turn:
 * within a tier, the innermost frame (from the sampled one outwards) matching one of its
 * categories decides; a sample no tier claims is "other". (So a first tier of the application's
 * own functions bills library code to the function that called it, and a later tier of library
 * names catches library frames resumed from the microtask queue without their caller.)
 */
export function summarizeProfile(path: string, fromMs: number, toMs: number, tiers: readonly (readonly Category[])[], root: string, top = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, "utf8")) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of profile.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const categoryOf = new Map<number, string>();
  const classify = (id: number): string => {
    const known = categoryOf.get(id);
    if (known !== undefined) return known;
    let found = "other";
    search: for (const categories of tiers) {
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
        const frame = byId.get(at)?.callFrame;
        const hit = frame && categories.find((c) => c.test(frame));
        if (hit) {
          found = hit.name;
          break search;
        }
      }
    }
    categoryOf.set(id, found);
    return found;
  };
  const perCategory = new Map<string, number>();
  const perFunction = new Map<string, number>();
  let t = profile.startTime;
  let counted = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    if (t < fromMs * 1000 || t > toMs * 1000) continue;
    const id = profile.samples[i] as number;
    const node = byId.get(id);
    if (!node || node.callFrame.functionName === "(root)" || node.callFrame.functionName === "(idle)" || node.callFrame.functionName === "(program)") continue;
    counted++;
    const c = classify(id);
    perCategory.set(c, (perCategory.get(c) ?? 0) + 1);
    const f = label(node.callFrame, root);
    perFunction.set(f, (perFunction.get(f) ?? 0) + 1);
  }
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]);
  const deltas = [...profile.timeDeltas].sort((a, b) => a - b);
  return {
    samples: counted,
    intervalMs: (deltas[deltas.length >> 1] ?? 1000) / 1000,
    categories: sorted(perCategory).map(([name, n]) => ({ name, share: counted > 0 ? n / counted : 0 })),
    hot: sorted(perFunction)
      .slice(0, top)
      .map(([fn, n]) => ({ fn, share: counted > 0 ? n / counted : 0 })),
  };
}
