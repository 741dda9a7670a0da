/**
 * A counting gate for large pushes (initial syncs): at most `limit` streams write a large push at
 * once, the rest wait their turn in arrival order. Each stream serializes its own copy of a push
 * (Connect encodes per stream), so 100 proxies syncing 10,000 workloads at once would otherwise
 * hold 100 × 3 MB of response buffers until the garbage collector catches up.
 *
 * A slot is held at most `maxHoldMs`: a proxy that stops reading must not stall everyone else's
 * sync, so its slot is handed on when the time is up (it keeps writing, just outside the gate).
 */
export class BulkGate {
  readonly #limit: number;
  readonly #maxHoldMs: number;
  #active = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(limit: number, maxHoldMs: number) {
    this.#limit = Math.max(1, limit);
    this.#maxHoldMs = maxHoldMs;
  }

  get active(): number {
    return this.#active;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  /** Resolves with the slot's release function (idempotent) once the caller may go. */
  async enter(): Promise<() => void> {
    if (this.#active < this.#limit) this.#active++;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      clearTimeout(timer);
      const next = this.#waiting.shift();
      if (next) next(); // the slot passes straight to the next waiter
      else this.#active--;
    };
    const timer = setTimeout(release, this.#maxHoldMs);
    timer.unref?.();
    return release;
  }
}
