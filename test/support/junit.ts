/** Counts test outcomes in a JUnit XML report (as `bun test` and `deno test` write them). */
export interface TestCounts {
  passed: number;
  failed: number;
  skipped: number;
  failures: string[];
}

const TESTCASE = /<testcase\b([^>]*?)(?:\/>|>([\s\S]*?)<\/testcase>)/g;

function attr(attrs: string, name: string): string {
  const m = new RegExp(`\\b${name}="([^"]*)"`).exec(attrs);
  return m?.[1] ?? "";
}

export function countJunit(xml: string): TestCounts {
  const counts: TestCounts = { passed: 0, failed: 0, skipped: 0, failures: [] };
  for (const m of xml.matchAll(TESTCASE)) {
    const attrs = m[1] ?? "";
    const body = m[2] ?? "";
    if (/<(failure|error)\b/.test(body)) {
      counts.failed++;
      counts.failures.push(`${attr(attrs, "classname")} > ${attr(attrs, "name")}`);
    } else if (/<skipped\b/.test(body) || /\bskipped="true"/.test(attrs)) {
      counts.skipped++;
    } else {
      counts.passed++;
    }
  }
  return counts;
}
