import { describe, expect, test } from "bun:test";
import { regexHazard } from "./regex-hazard.ts";

describe("regexHazard", () => {
  const refused = ["(a+)+", "/(a+)+", "(a*)*", "(a+)*b", "(x|xx)+", "((ab)*c)+", "(a{1,})+", "(a{2,5}){3,}", "(?:[a-z]+/)*end", "(\\d+)+$", "((a)+)+"];
  const accepted = ["/api/v[0-9]+/.*", "^/reviews/[0-9]+$", "(a+)?", "(ab){2}", "(a|b)", "[(+)]+", "\\(a+\\)+", "(a)+", "(?:abc)+", "grpc\\.health\\.v1\\..*", "(a{2})+", "v[12]"];
  for (const source of refused) test(`refuses ${source}`, () => expect(regexHazard(source)).not.toBeNull());
  for (const source of accepted) test(`accepts ${source}`, () => expect(regexHazard(source)).toBeNull());
});
