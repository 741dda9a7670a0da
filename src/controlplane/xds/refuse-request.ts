/**
 * Answers a request the listener refused before any handler ran (failed authentication), without
 * reading its body: a trailers-only gRPC status for gRPC clients, a Connect JSON error with the
 * matching HTTP status for Connect clients. The stream is then reset (NO_ERROR), which tells the
 * client to stop sending.
 */
import { Code } from "@connectrpc/connect";
import http2 from "node:http2";
import { toConnectError } from "../../errors/grpc-code.ts";
import { httpStatusFor } from "../../errors/http-status.ts";
import { MeshError } from "../../errors/mesh-error.ts";

/** Connect's code names: PermissionDenied → permission_denied. */
const connectCodeName = (code: Code) => (Code[code] ?? "unknown").replace(/[A-Z]/g, (m, i: number) => (i > 0 ? "_" : "") + m.toLowerCase());

export function refuseRequest(req: http2.Http2ServerRequest, res: http2.Http2ServerResponse, err: unknown): void {
  const e = MeshError.from(err);
  const connect = toConnectError(e);
  const stream = req.stream;
  if (stream.destroyed || stream.headersSent) return;
  if ((req.headers["content-type"] ?? "").startsWith("application/grpc")) {
    stream.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": String(connect.code), "grpc-message": encodeURIComponent(connect.rawMessage) }, { endStream: true });
  } else {
    res.writeHead(httpStatusFor(e.code), { "content-type": "application/json" });
    res.end(JSON.stringify({ code: connectCodeName(connect.code), message: connect.rawMessage }));
  }
  stream.close(http2.constants.NGHTTP2_NO_ERROR);
}
