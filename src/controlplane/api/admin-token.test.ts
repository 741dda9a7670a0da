import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isMeshError } from "../../errors/mesh-error.ts";
import { loadOrCreateAdminToken } from "./admin-token.ts";

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "mesh-admin-token-"))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("loadOrCreateAdminToken", () => {
  test("generates a token readable by its owner only, and reads it back", () => {
    const path = join(dir, "admin-token");
    const token = loadOrCreateAdminToken(path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(loadOrCreateAdminToken(path)).toBe(token);
  });

  test.each([0o644, 0o640, 0o604, 0o620, 0o660])("refuses an operator's token file with mode %o", (mode) => {
    const path = join(dir, "supplied");
    writeFileSync(path, "a-token-of-sufficient-length\n");
    chmodSync(path, mode);
    let err: unknown;
    try {
      loadOrCreateAdminToken(path);
    } catch (e) {
      err = e;
    }
    expect(isMeshError(err, "failed_precondition")).toBe(true);
    expect((err as Error).message).toContain(`is accessible by others (mode 0${mode.toString(8)}); make it readable by its owner only: chmod 600 ${path}`);
  });

  test.each([0o600, 0o400])("accepts an operator's token file with mode %o", (mode) => {
    const path = join(dir, "supplied");
    writeFileSync(path, "a-token-of-sufficient-length\n");
    chmodSync(path, mode);
    expect(loadOrCreateAdminToken(path)).toBe("a-token-of-sufficient-length");
  });
});
