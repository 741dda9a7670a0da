/**
 * What a test needs from the machine (root, a command). Outside CI a missing requirement skips
 * the test with the reason printed; in CI (CI=true) it fails, because .ci/run installs everything
 * and a skip there would hide a broken setup.
 */
import { haveCommand, isRoot } from "./command.ts";

export function missingRequirement(needs: { root?: boolean; commands?: readonly string[] }): string | null {
  if (needs.root && !isRoot()) return "needs root";
  const missing = (needs.commands ?? []).filter((c) => !haveCommand(c));
  if (missing.length > 0) return `needs ${missing.join(", ")} on PATH`;
  return null;
}

/** null: run the test; a string: skip it for that reason (printed). Throws in CI instead of skipping. */
export function skipReason(testName: string, needs: Parameters<typeof missingRequirement>[0]): string | null {
  const reason = missingRequirement(needs);
  if (reason === null) return null;
  const ci = process.env.CI === "true" || process.env.CI === "1";
  // Root is the one requirement CI may lack on a developer's machine run; tools it installs itself.
  if (ci && reason !== "needs root") throw new Error(`${testName}: ${reason} (CI must install it)`);
  console.log(`skip: ${testName}: ${reason}`);
  return reason;
}
