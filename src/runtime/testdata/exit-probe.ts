/** Exits through the runtime port with the code given as its first argument. */
import { loadRuntime } from "../index.ts";

const rt = await loadRuntime();
rt.exit(Number(rt.argv()[0]));
