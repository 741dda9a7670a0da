/**
 * HBONE response status for each error code (the one place a refusal becomes a CONNECT status):
 * 200 tunnel up, 400 bad request/authority, 401 denied by policy or identity, 503 upstream
 * unreachable. And the reverse, for the client half reading a refusal.
 */
import type { ErrorCode } from "./mesh-error.ts";

export function hboneStatusFor(code: ErrorCode): number {
  switch (code) {
    case "invalid_argument":
    case "not_found":
      return 400;
    case "permission_denied":
    case "unauthenticated":
      return 401;
    case "resource_exhausted":
      return 429;
    default:
      return 503;
  }
}

export function errorCodeForHboneStatus(status: number): ErrorCode {
  if (status === 400) return "invalid_argument";
  if (status === 401 || status === 403) return "permission_denied";
  if (status === 429) return "resource_exhausted";
  return "unavailable";
}
