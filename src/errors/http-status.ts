/** HTTP status for each error code: the one place an API failure becomes a status. */
import type { ErrorCode } from "./mesh-error.ts";

const HTTP_STATUS: Record<ErrorCode, number> = {
  invalid_argument: 400,
  unauthenticated: 401,
  permission_denied: 403,
  not_found: 404,
  already_exists: 409,
  conflict: 409,
  failed_precondition: 412,
  resource_exhausted: 429,
  canceled: 499,
  internal: 500,
  unimplemented: 501,
  unavailable: 503,
  deadline_exceeded: 504,
};

export function httpStatusFor(code: ErrorCode): number {
  return HTTP_STATUS[code];
}

/** The reverse, for clients reading an API error; unknown statuses are internal errors. */
export function errorCodeForHttpStatus(status: number): ErrorCode {
  const hit = (Object.entries(HTTP_STATUS) as Array<[ErrorCode, number]>).find(([, s]) => s === status);
  if (status === 409) return "conflict";
  return hit ? hit[0] : "internal";
}
