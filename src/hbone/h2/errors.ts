/**
 * HTTP/2 error codes (RFC 9113 §7) and the one error type the lean HTTP/2 layer throws: a
 * MeshError that also carries the HTTP/2 code and whether it ends a stream or the connection.
 * `MeshError.from` passes it through unchanged, so callers see the usual codes (a reset by the
 * peer is "unavailable", a cancel "canceled", a flood "resource_exhausted").
 */
import { MeshError, type ErrorCode } from "../../errors/mesh-error.ts";

export const H2Code = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  SETTINGS_TIMEOUT: 0x4,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  CONNECT_ERROR: 0xa,
  ENHANCE_YOUR_CALM: 0xb,
  INADEQUATE_SECURITY: 0xc,
  HTTP_1_1_REQUIRED: 0xd,
} as const;

const NAMES = new Map<number, string>(Object.entries(H2Code).map(([k, v]) => [v, k]));

export function h2CodeName(code: number): string {
  return NAMES.get(code) ?? `0x${code.toString(16)}`;
}

function meshCodeFor(h2Code: number): ErrorCode {
  if (h2Code === H2Code.CANCEL) return "canceled";
  if (h2Code === H2Code.ENHANCE_YOUR_CALM) return "resource_exhausted";
  return "unavailable";
}

export class H2Error extends MeshError {
  /** The RFC 9113 error code (H2Code). */
  readonly h2Code: number;
  /** A connection error ends every stream of the connection; a stream error only its stream. */
  readonly scope: "connection" | "stream";

  constructor(h2Code: number, scope: "connection" | "stream", message: string, options: { cause?: unknown; code?: ErrorCode } = {}) {
    super(options.code ?? meshCodeFor(h2Code), `${message} (${h2CodeName(h2Code)})`, options.cause === undefined ? {} : { cause: options.cause });
    this.h2Code = h2Code;
    this.scope = scope;
  }
}

/** A connection error: the connection sends GOAWAY with this code and closes. */
export const connectionError = (h2Code: number, message: string): H2Error => new H2Error(h2Code, "connection", message);
/** A stream error: RST_STREAM with this code; the connection goes on. */
export const streamError = (h2Code: number, message: string): H2Error => new H2Error(h2Code, "stream", message);
