/** Validation findings: a field path in the document and what is wrong there. */
import type { z } from "zod";

export interface FieldIssue {
  /** e.g. `spec.rules[0].from[0].source.principals` */
  readonly path: string;
  readonly message: string;
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else if (typeof p === "string" && /^[A-Za-z_$][\w$]*$/.test(p)) out += out === "" ? p : `.${p}`;
    else out += `[${JSON.stringify(String(p))}]`;
  }
  return out;
}

function join(prefix: string, path: string): string {
  if (path === "") return prefix;
  if (prefix === "") return path;
  return path.startsWith("[") ? `${prefix}${path}` : `${prefix}.${path}`;
}

/** Turn zod's issues into field issues under `prefix`; unknown keys each get their own issue. */
export function fromZodIssues(prefix: string, issues: readonly z.core.$ZodIssue[]): FieldIssue[] {
  const out: FieldIssue[] = [];
  for (const issue of issues) {
    const at = join(prefix, formatPath(issue.path));
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) out.push({ path: join(at, formatPath([key])), message: "unknown field" });
    } else if (issue.code === "invalid_key" && issue.issues.length > 0) {
      for (const inner of issue.issues) out.push({ path: at, message: inner.message });
    } else if (issue.code === "invalid_union" && issue.errors.length > 0) {
      // Report the branch that got furthest; the others only add noise.
      const best = [...issue.errors].sort((a, b) => depth(b) - depth(a))[0] ?? [];
      for (const inner of fromZodIssues(at, best)) out.push(inner); // not push(...): a branch may hold a million issues
    } else {
      out.push({ path: at, message: issue.message });
    }
  }
  return out;
}

/** The longest path among issues (a loop: spreading a huge issue list into Math.max overflows the stack). */
function depth(issues: readonly z.core.$ZodIssue[]): number {
  let max = 0;
  for (const i of issues) max = Math.max(max, i.path.length);
  return max;
}
