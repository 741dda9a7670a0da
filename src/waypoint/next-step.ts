/**
 * What the upstream stage does after one try (pure, shared by the HTTP/1.1 and HTTP/2 engines):
 * - a response: kept, unless the route's retry policy names its status and attempts are left
 *   (and the request can be sent again) — then retried on the next hop after backoff;
 * - a hop that could not be connected: the next hop, not counted as a retry (nothing was sent);
 *   with no hop left, the retry policy decides;
 * - a try the hop never processed (HTTP/2 GOAWAY above the stream, REFUSED_STREAM): sent again on
 *   the same hop (a new session), not counted as a retry, at most MAX_RESENDS times;
 * - a reset: retried per the policy; a timeout: answered (Envoy's per-try timeout is not retried
 *   here either unless asked; Gateway API retries name statuses only).
 * A request is tried again only when the transport says it can be sent again.
 */
import type { RetryPolicy } from "../plugin-api/index.ts";
import type { TryFailure } from "./upstream-transport.ts";

/** Tries a hop refused unprocessed (GOAWAY/REFUSED_STREAM) that are sent again per request. */
export const MAX_RESENDS = 3;

export type TryResult = { readonly kind: "response"; readonly status: number; readonly resendable: boolean } | { readonly kind: "failed"; readonly failure: TryFailure; readonly resendable: boolean };

export interface TryState {
  readonly retry: RetryPolicy | null;
  /** Retries so far (policy retries, not failovers or resends). */
  readonly retries: number;
  readonly resends: number;
  /** Hops tried so far, this one included, and how many there are. */
  readonly hopsTried: number;
  readonly hops: number;
}

export type NextStep =
  | { readonly do: "respond" }
  | { readonly do: "next-hop" }
  | { readonly do: "resend" }
  | { readonly do: "retry"; readonly backoffMs: number }
  | { readonly do: "reply"; readonly failure: TryFailure };

export function nextStep(result: TryResult, s: TryState): NextStep {
  const policyRetry = (): NextStep | null => (s.retry && result.resendable && s.retries < s.retry.attempts ? { do: "retry", backoffMs: s.retry.backoffMs * 2 ** s.retries } : null);
  if (result.kind === "response") return (s.retry?.codes.includes(result.status) && policyRetry()) || { do: "respond" };
  switch (result.failure) {
    case "refused":
      return result.resendable && s.resends < MAX_RESENDS ? { do: "resend" } : { do: "reply", failure: "reset" };
    case "connect":
      if (result.resendable && s.hopsTried < s.hops) return { do: "next-hop" };
      return policyRetry() ?? { do: "reply", failure: "connect" };
    case "reset":
      return policyRetry() ?? { do: "reply", failure: "reset" };
    case "timeout":
      return { do: "reply", failure: "timeout" };
  }
}
