/**
 * What the control plane keeps and logs of a proxy's NACKs, bounded whatever the proxy sends: an
 * authenticated proxy could NACK every response with a 16 MiB error_detail (20 kept whole per
 * stream, each logged whole: ~1 GB of logs in 20 s). Pure decisions, used by the proxy registry:
 * - the detail is cut to `maxDetailChars` (saying how much was cut), the resource names to
 *   `maxResources` (saying how many more);
 * - a proxy's NACKs are logged at most once per `logIntervalMs`; the next line that is logged says
 *   how many were left out in between.
 */
import type { NackRecord } from "./delta-session.ts";

export interface NackLimits {
  /** Characters of error_detail kept and logged. */
  readonly maxDetailChars: number;
  /** Names of the rejected resources kept per NACK. */
  readonly maxResources: number;
  /** NACKs kept per proxy (the most recent). */
  readonly maxKept: number;
  /** At most one NACK log line per proxy in this long. */
  readonly logIntervalMs: number;
}

export const DEFAULT_NACK_LIMITS: NackLimits = { maxDetailChars: 1024, maxResources: 16, maxKept: 10, logIntervalMs: 10_000 };

export interface KeptNack {
  readonly typeUrl: string;
  readonly nonce: string;
  readonly message: string;
  readonly resources: readonly string[];
  /** Rejected resources left out of `resources`. */
  readonly moreResources?: number;
  readonly at: string;
}

/** The bounded copy of a NACK that is kept and shown. */
export function keptNack(nack: NackRecord, at: Date, limits: NackLimits): KeptNack {
  const more = nack.resources.length - limits.maxResources;
  return {
    typeUrl: clip(nack.typeUrl, 256),
    nonce: clip(nack.nonce, 64),
    message: clip(nack.message, limits.maxDetailChars),
    resources: more > 0 ? nack.resources.slice(0, limits.maxResources) : nack.resources,
    ...(more > 0 ? { moreResources: more } : {}),
    at: at.toISOString(),
  };
}

/** `text` cut to `max` characters, with a note of how many were cut. */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more characters)`;
}

/** Per proxy: when a NACK was last logged, and how many were not logged since. */
export interface NackLogState {
  readonly lastLoggedAt: number | undefined;
  readonly suppressed: number;
}

export const INITIAL_NACK_LOG: NackLogState = { lastLoggedAt: undefined, suppressed: 0 };

/** Whether this NACK is logged (and how many earlier ones the line reports as left out), and the next state. */
export function decideNackLog(state: NackLogState, nowMs: number, intervalMs: number): { log: boolean; suppressed: number; next: NackLogState } {
  if (state.lastLoggedAt !== undefined && nowMs - state.lastLoggedAt < intervalMs) {
    return { log: false, suppressed: 0, next: { lastLoggedAt: state.lastLoggedAt, suppressed: state.suppressed + 1 } };
  }
  return { log: true, suppressed: state.suppressed, next: { lastLoggedAt: nowMs, suppressed: 0 } };
}
