/** Runs the runtime port contract against the Bun adapter. */
import { describe, test } from "bun:test";
import { skipReason } from "../../test/support/requirements.ts";
import { bunRuntime } from "./bun.ts";
import { runtimeContract } from "./contract.ts";

describe("runtime contract: bun", () => {
  for (const c of runtimeContract(bunRuntime, { runScript: [process.execPath] })) {
    const skip = c.needs ? skipReason(c.name, c.needs) : null;
    (skip === null ? test : test.skip)(c.name, () => c.run());
  }
});
