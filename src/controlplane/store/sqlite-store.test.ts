import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bunRuntime } from "../../runtime/bun.ts";
import { storeContract } from "./contract.ts";
import { createSqliteStore } from "./sqlite-store.ts";

storeContract("sqlite", () => {
  const dir = mkdtempSync(join(tmpdir(), "mesh-store-"));
  const open = async () => createSqliteStore({ db: bunRuntime.openDatabase(join(dir, "store.db")) });
  return {
    open,
    reopen: async (store) => {
      await store.close();
      return open();
    },
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});
