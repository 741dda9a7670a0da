/**
 * Picks the runtime adapter once, at the entry point. Only this module looks at which runtime is
 * running; everything else receives the RuntimePort it returns.
 */
import type { RuntimePort } from "./port.ts";

export async function loadRuntime(): Promise<RuntimePort> {
  const g = globalThis as { Bun?: unknown; Deno?: unknown };
  if (g.Bun !== undefined) return (await import("./bun.ts")).bunRuntime;
  if (g.Deno !== undefined) return (await import("./deno.ts")).denoRuntime;
  throw new Error("mesh runs on Bun or Deno; this runtime is neither");
}
