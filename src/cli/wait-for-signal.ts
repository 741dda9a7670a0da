/** Run a long-lived role until SIGTERM or SIGINT, then drain it within a deadline. */
import type { RuntimePort } from "../runtime/port.ts";
import type { Logger } from "../telemetry/log.ts";

export async function runUntilSignal(rt: RuntimePort, log: Logger, close: () => Promise<void>, drainMs = 10_000): Promise<number> {
  const signal = await new Promise<string>((resolve) => {
    const offs = (["SIGTERM", "SIGINT"] as const).map((s) =>
      rt.onSignal(s, () => {
        for (const off of offs) off();
        resolve(s);
      }),
    );
  });
  log.info("draining", { signal, deadlineMs: drainMs });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), drainMs)));
  const outcome = await Promise.race([close().then(() => "drained" as const), deadline]);
  clearTimeout(timer);
  if (outcome === "timeout") log.warn("drain deadline passed; exiting with work in flight", { deadlineMs: drainMs });
  return 0;
}
