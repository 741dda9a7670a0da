/**
 * Measurement rows and their ratios against the baseline path. A ratio is value / baseline value
 * for the same metric, measured in the same run; it is null when the baseline has no such metric
 * or its value is 0 (e.g. proxy CPU on the direct path, where there is no proxy), and for a
 * baseline's own rows. Each path may have a baseline of its own (paths on another testbed).
 */

export interface Row {
  readonly path: string;
  readonly metric: string;
  readonly value: number;
  readonly unit: string;
  /** With --repeat > 1: every run's value in run order (`value` is their median), to show the spread. */
  readonly runs?: readonly number[];
}

export interface RatedRow extends Row {
  readonly ratio: number | null;
}

export function rate(rows: readonly Row[], baseline: string, baselines: Readonly<Record<string, string>> = {}): RatedRow[] {
  const value = new Map(rows.map((r) => [`${r.path}\u0000${r.metric}`, r.value]));
  return rows.map((r) => {
    const own = baselines[r.path] ?? baseline;
    if (own === r.path && own !== baseline) return { ...r, ratio: null };
    const b = value.get(`${own}\u0000${r.metric}`);
    const ratio = b === undefined || b === 0 || !Number.isFinite(b) || !Number.isFinite(r.value) ? null : r.value / b;
    return { ...r, ratio };
  });
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Merge repeated runs: one row per (path, metric), the median of its values, in first-seen order. */
export function medianRows(runs: readonly (readonly Row[])[]): Row[] {
  const groups = new Map<string, { row: Row; values: number[] }>();
  for (const run of runs) {
    for (const row of run) {
      const key = `${row.path}\u0000${row.metric}`;
      const group = groups.get(key);
      if (group) group.values.push(row.value);
      else groups.set(key, { row, values: [row.value] });
    }
  }
  return [...groups.values()].map(({ row, values }) => ({ ...row, value: median(values), ...(values.length > 1 ? { runs: values } : {}) }));
}
