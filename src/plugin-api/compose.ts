/**
 * Runs a filter chain for one request. Like hono's compose, a filter gets `next` to run the rest
 * of the chain and may call it at most once (a second call rejects). Unlike hono, each entry has
 * a failure policy: when a filter throws, returns without calling next() or replying, or its own
 * work exceeds `timeoutMs` (time spent inside next() does not count), only this request is affected —
 *   FailClosed: the response becomes a 500 naming the filter (details "filter_failed"), any
 *     response body from further down is cancelled;
 *   FailOpen: the filter is skipped — if it had not called next() yet the chain continues without
 *     it (a local reply it set is discarded), otherwise the response stands.
 * An error thrown further down (another filter's rethrow, the terminal stage) is not this filter's
 * failure and passes through. After a failure the filter's late next() is refused.
 *
 * Allocation per request: one FilterRun (state plus its `next`) per filter reached; one timer
 * (and its check) only for entries with a timeout.
 */
import { MeshError } from "../errors/mesh-error.ts";
import type { RequestContext } from "./context.ts";
import type { Filter, Next } from "./plugin.ts";

export type FailurePolicy = "FailOpen" | "FailClosed";

/** One filter in a chain with its failure policy. */
export interface ChainEntry {
  /** Shown in logs and in a FailClosed reply, e.g. "router" or "FilterPlugin ns/quota". */
  readonly name: string;
  readonly filter: Filter;
  readonly failurePolicy: FailurePolicy;
  /** Bound on the filter's own work per request; undefined: none. */
  readonly timeoutMs?: number;
}

/** What runs after the last filter (the upstream call, or a test's stand-in server logic). */
export type Terminal = (ctx: RequestContext) => Promise<void>;

export type Chain = (ctx: RequestContext) => Promise<void>;

/** A chain built once (per config version) and run for every request. */
export function compose(entries: readonly ChainEntry[], terminal: Terminal): Chain {
  const frozen = [...entries];
  return function runChain(ctx: RequestContext): Promise<void> {
    return dispatch(frozen, terminal, ctx, 0);
  };
}

function dispatch(entries: readonly ChainEntry[], terminal: Terminal, ctx: RequestContext, i: number): Promise<void> {
  if (i === entries.length) return terminal(ctx);
  return new FilterRun(entries, terminal, ctx, i).run();
}

const enum State {
  Before, // next() not called yet
  InNext,
  After, // next() settled
  Failed, // the filter failed; its next() is refused
}

class FilterRun {
  private state = State.Before;
  /** The error next() rejected with, to tell a rethrow from the filter's own failure. */
  private downstream: { error: unknown } | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private armed = false;
  /** The rest of the chain while the filter waits in next(). */
  private pending: Promise<void> | null = null;
  /** The filter's own time so far, not counting the open stretch since `runningSince`. */
  private usedMs = 0;
  /** When the filter last resumed its own work; -1 while it waits in next(). */
  private runningSince = -1;
  private expire: ((err: MeshError) => void) | null = null;

  constructor(
    private readonly entries: readonly ChainEntry[],
    private readonly terminal: Terminal,
    private readonly ctx: RequestContext,
    private readonly i: number,
  ) {}

  readonly next: Next = async () => {
    const entry = this.entries[this.i] as ChainEntry;
    if (this.state === State.Failed) throw new MeshError("failed_precondition", `filter "${entry.name}" called next() after it had failed`);
    if (this.state !== State.Before) throw new MeshError("internal", `filter "${entry.name}" called next() multiple times`);
    this.state = State.InNext;
    this.pause();
    try {
      await (this.pending = dispatch(this.entries, this.terminal, this.ctx, this.i + 1));
    } catch (error) {
      this.downstream = { error };
      throw error;
    } finally {
      if (this.state === State.InNext) this.state = State.After;
      this.resume();
    }
  };

  async run(): Promise<void> {
    const entry = this.entries[this.i] as ChainEntry;
    try {
      if (entry.timeoutMs === undefined) await entry.filter(this.ctx, this.next);
      else {
        await this.bounded(entry.timeoutMs);
        // A timer cannot preempt synchronous work: an overrun is a failure even if it finished first.
        if (this.usedMs + (this.runningSince === -1 ? 0 : Date.now() - this.runningSince) > entry.timeoutMs) throw new MeshError("deadline_exceeded", `took longer than its ${entry.timeoutMs}ms timeout`);
      }
      // Stopping the chain means replying: a filter that did neither would leave the request hanging.
      if (this.state === State.Before && this.ctx.response === null) throw new MeshError("internal", "returned without calling next() or ctx.respond()");
    } catch (err) {
      if (this.downstream !== null && this.downstream.error === err) throw err;
      await this.fail(entry, err);
    } finally {
      clearTimeout(this.timer);
    }
  }

  /**
   * The filter's run raced against its budget. One timer per filter run: pausing for next() only
   * notes the time; when the timer fires it checks the time actually used and re-arms for the
   * rest. It never expires while the filter waits in next() (the rest of the chain is running):
   * if it fires then, resuming re-arms it.
   */
  private bounded(ms: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.expire = reject;
      this.runningSince = Date.now();
      this.arm(ms);
      // Settles at most once: a filter that finishes or fails after its timeout changes nothing.
      (this.entries[this.i] as ChainEntry).filter(this.ctx, this.next).then(resolve, reject);
    });
  }

  private arm(ms: number): void {
    this.armed = true;
    this.timer = setTimeout(() => this.check(), ms);
  }

  private check(): void {
    this.armed = false;
    if (this.runningSince === -1) return; // in next(): resume() re-arms
    const budget = (this.entries[this.i] as ChainEntry).timeoutMs as number;
    const used = this.usedMs + Date.now() - this.runningSince;
    if (used >= budget) this.expire?.(new MeshError("deadline_exceeded", `timed out after ${budget}ms`));
    else this.arm(budget - used);
  }

  private pause(): void {
    if (this.expire === null) return;
    this.usedMs += Date.now() - this.runningSince;
    this.runningSince = -1;
  }

  private resume(): void {
    if (this.expire === null) return;
    this.runningSince = Date.now();
    if (!this.armed) this.arm(Math.max(0, ((this.entries[this.i] as ChainEntry).timeoutMs as number) - this.usedMs));
  }

  private async fail(entry: ChainEntry, err: unknown): Promise<void> {
    // A filter that failed while the rest of the chain still runs (it did not await next()): let
    // that finish first, so nothing changes the response after the chain has settled.
    if (this.state === State.InNext) await this.pending?.catch(() => undefined);
    const calledNext = this.state !== State.Before;
    this.state = State.Failed;
    const reason = MeshError.from(err).message;
    this.ctx.log.warn("filter failed", { filter: entry.name, policy: entry.failurePolicy, error: reason });
    if (entry.failurePolicy === "FailClosed") {
      this.ctx.respond(500, {
        headers: { "content-type": "text/plain; charset=utf-8" },
        body: `filter "${entry.name}" failed (${reason}); the request was refused by its failure policy (FailClosed)\n`,
        details: "filter_failed",
      });
      return;
    }
    if (calledNext) return; // the rest of the chain already ran: its response stands
    if (this.ctx.response !== null) {
      void this.ctx.response.body?.cancel("filter failed open").catch(() => undefined);
      this.ctx.response = null;
    }
    await dispatch(this.entries, this.terminal, this.ctx, this.i + 1);
  }
}
