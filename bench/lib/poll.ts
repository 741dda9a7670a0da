/** Poll a check until it passes, a deadline expires, or a fail-fast condition says give up. No fixed sleeps. */

export interface PollOptions {
  readonly timeoutMs: number;
  readonly what: string;
  readonly intervalMs?: number;
  /** Checked before each attempt: a string aborts the wait with that reason (e.g. "the server exited"). */
  readonly giveUp?: () => string | null;
}

export async function pollUntil<T>(check: () => Promise<T | null> | T | null, options: PollOptions): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let interval = options.intervalMs ?? 10;
  let lastError: unknown = null;
  for (;;) {
    const reason = options.giveUp?.();
    if (reason) throw new Error(`gave up waiting for ${options.what}: ${reason}`);
    try {
      const value = await check();
      if (value !== null) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const detail = lastError === null ? "" : `: ${String(lastError)}`;
      throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${options.what}${detail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
    interval = Math.min(interval * 2, 100);
  }
}
