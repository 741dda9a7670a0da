/**
 * The one error type of mesh. Every failure that crosses a module boundary is a MeshError with a
 * code from a closed set; the code alone decides the exit code, HTTP status, HBONE status and
 * gRPC code (each mapped in one place, beside this file). `MeshError.from(unknown)` turns anything
 * thrown into one without losing the original as `cause`.
 */

export const ERROR_CODES = [
  "invalid_argument", // bad input: flags, config, documents, requests
  "not_found",
  "already_exists",
  "conflict", // compare-and-swap lost: stale resourceVersion
  "permission_denied",
  "unauthenticated",
  "failed_precondition",
  "resource_exhausted",
  "unavailable",
  "deadline_exceeded",
  "canceled",
  "unimplemented",
  "internal",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** Structured detail: where the problem is (a flag, a field path) and what would have been accepted. */
export interface ErrorDetail {
  readonly path?: string;
  readonly accepted?: readonly string[];
  readonly [key: string]: unknown;
}

export class MeshError extends Error {
  override readonly name = "MeshError";
  readonly code: ErrorCode;
  readonly detail: ErrorDetail;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; detail?: ErrorDetail } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.detail = options.detail ?? {};
  }

  /** Wrap anything thrown; a MeshError passes through unchanged. */
  static from(err: unknown, fallback: ErrorCode = "internal"): MeshError {
    if (err instanceof MeshError) return err;
    if (err instanceof Error) {
      if (err.name === "AbortError") return new MeshError("canceled", err.message, { cause: err });
      if (err.name === "TimeoutError") return new MeshError("deadline_exceeded", err.message, { cause: err });
      return new MeshError(fallback, err.message, { cause: err });
    }
    return new MeshError(fallback, String(err), { cause: err });
  }
}

export function isMeshError(err: unknown, code?: ErrorCode): err is MeshError {
  return err instanceof MeshError && (code === undefined || err.code === code);
}
