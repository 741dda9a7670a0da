/** Runs the runtime port contract against the Deno adapter: `deno test -A src/runtime/deno.contract.ts`. */
import { skipReason } from "../../test/support/requirements.ts";
import { runtimeContract } from "./contract.ts";
import { deno } from "./deno-api.ts";
import { denoRuntime } from "./deno.ts";

const runScript = [deno.execPath(), "run", "-A", "--quiet"];
for (const c of runtimeContract(denoRuntime, { runScript })) {
  const skip = c.needs ? skipReason(c.name, c.needs) : null;
  deno.test({
    name: `runtime contract: deno: ${c.name}`,
    ignore: skip !== null,
    // Child processes and watchers are cleaned up by the cases themselves.
    sanitizeOps: false,
    sanitizeResources: false,
    fn: () => c.run(),
  });
}
