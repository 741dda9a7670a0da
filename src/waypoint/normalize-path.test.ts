import { describe, expect, test } from "bun:test";
import { normalizePath } from "./normalize-path.ts";

describe("request paths as filters and routes see them", () => {
  const cases: Array<[string, string | null]> = [
    ["/", "/"],
    ["/reviews/1", "/reviews/1"],
    ["/reviews/../admin", "/admin"],
    ["/reviews/./1", "/reviews/1"],
    ["/a/b/../../../../admin", "/admin"],
    ["/a/..", "/"],
    ["/a/.", "/a/"],
    ["/%61dmin", "/admin"],
    ["/%2e%2e/admin", "/admin"],
    ["/a%2Fb", "/a%2Fb"],
    ["/a%2fb", "/a%2Fb"],
    ["/%7Euser", "/~user"],
    ["/caf%c3%a9", "/caf%C3%A9"],
    ["/file.txt", "/file.txt"],
    ["/..foo/bar", "/..foo/bar"],
    ["/bad%zz", null],
    ["/bad%4", null],
    ["*", null],
    ["http://reviews/admin", null],
    ["", null],
  ];
  for (const [raw, want] of cases) test(JSON.stringify(raw), () => expect(normalizePath(raw)).toBe(want));
});
