/** gRPC / Connect status for each error code: the one place an RPC failure becomes a status. */
import { Code, ConnectError } from "@connectrpc/connect";
import { MeshError, type ErrorCode } from "./mesh-error.ts";

const GRPC_CODES: Record<ErrorCode, Code> = {
  invalid_argument: Code.InvalidArgument,
  not_found: Code.NotFound,
  already_exists: Code.AlreadyExists,
  conflict: Code.Aborted,
  permission_denied: Code.PermissionDenied,
  unauthenticated: Code.Unauthenticated,
  failed_precondition: Code.FailedPrecondition,
  resource_exhausted: Code.ResourceExhausted,
  unavailable: Code.Unavailable,
  deadline_exceeded: Code.DeadlineExceeded,
  canceled: Code.Canceled,
  unimplemented: Code.Unimplemented,
  internal: Code.Internal,
};

export function toConnectError(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  const e = MeshError.from(err);
  return new ConnectError(e.message, GRPC_CODES[e.code], undefined, undefined, e);
}

/** The reverse, for clients: a ConnectError (or anything) as a MeshError. */
export function fromConnectError(err: unknown): MeshError {
  if (err instanceof ConnectError) {
    const code = (Object.entries(GRPC_CODES) as Array<[ErrorCode, Code]>).find(([, c]) => c === err.code)?.[0] ?? "internal";
    return new MeshError(code === "conflict" ? "conflict" : code, err.rawMessage, { cause: err });
  }
  return MeshError.from(err);
}
