import { expect, test } from "bun:test";
import { countJunit } from "./junit.ts";

test("counts passes, failures and skips in bun and deno report shapes", () => {
  const xml = `<?xml version="1.0"?>
<testsuites><testsuite name="a">
  <testcase name="ok one" classname="a" />
  <testcase name="ok two" classname="a"></testcase>
  <testcase name="bad" classname="suite b"><failure message="x">stack</failure></testcase>
  <testcase name="broken" classname="c">
    <error message="boom" />
  </testcase>
  <testcase name="later" classname="a"><skipped /></testcase>
</testsuite></testsuites>`;
  expect(countJunit(xml)).toEqual({ passed: 2, failed: 2, skipped: 1, failures: ["suite b > bad", "c > broken"] });
});

test("an empty report counts nothing", () => {
  expect(countJunit("")).toEqual({ passed: 0, failed: 0, skipped: 0, failures: [] });
});
