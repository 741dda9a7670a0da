/** Process exit codes for each error code: the one place a CLI failure becomes a number. */
import type { ErrorCode } from "./mesh-error.ts";

export const EXIT_OK = 0;

const EXIT_CODES: Record<ErrorCode, number> = {
  internal: 1,
  invalid_argument: 2, // usage errors, as getopt-style tools do
  unimplemented: 3,
  not_found: 4,
  already_exists: 5,
  conflict: 5,
  permission_denied: 6,
  unauthenticated: 6,
  failed_precondition: 7,
  resource_exhausted: 8,
  unavailable: 9,
  deadline_exceeded: 9,
  canceled: 130, // like a shell interrupted by SIGINT
};

export function exitCodeFor(code: ErrorCode): number {
  return EXIT_CODES[code];
}
