/** The entry point of the `mesh` binary: pick the runtime adapter once, then hand over to the CLI. */
import { runCli } from "./cli/main.ts";
import { loadRuntime } from "./runtime/index.ts";

const rt = await loadRuntime();
rt.exit(await runCli(rt, rt.argv()));
