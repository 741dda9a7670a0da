/**
 * The router filter: decides (./decide.ts) and carries the decision out on the request context —
 * records the matched route and the upstream selection for the waypoint's upstream stage, applies
 * header modifiers and rewrites, waits out an injected delay, or replies locally. It calls next()
 * only to forward, and applies response header modifiers on the way back.
 *
 * gRPC requests get local replies in gRPC's trailers-only shape (HTTP 200, grpc-status), with
 * the HTTP status mapped as the gRPC spec's HTTP-to-gRPC table does.
 */
import type { Filter, HeaderMap, PluginHost, RequestContext } from "../../src/plugin-api/index.ts";
import type { HeaderOps, RouterConfig } from "./config.ts";
import { decideRoute } from "./decide.ts";

export function createRouter(config: RouterConfig, host: PluginHost): Filter {
  for (const warning of config.warnings) host.log.warn(warning);
  return async function router(ctx, next) {
    const req = ctx.request;
    const decision = decideRoute(config, { method: req.method, scheme: req.scheme, authority: req.authority, path: req.path, query: req.query, headers: req.headers, listener: ctx.destination.listener, port: ctx.destination.port, grpc: ctx.grpc }, host.random);
    if (decision.delayMs > 0) await host.clock.sleep(decision.delayMs, ctx.signal);
    switch (decision.action) {
      case "not_found":
        return localReply(ctx, 404, null, "route_not_found");
      case "reply":
        ctx.route = decision.route;
        if (decision.location !== null) return ctx.respond(decision.status, { headers: { location: decision.location }, details: decision.details });
        return localReply(ctx, decision.status, decision.grpcStatus, decision.details);
      case "forward":
        ctx.route = decision.route;
        ctx.upstream = decision.upstream;
        for (const o of decision.requestHeaders) applyOps(req.headers, o);
        if (decision.path !== null) req.path = decision.path;
        if (decision.authority !== null) req.authority = decision.authority;
        await next();
        if (ctx.response !== null) for (const o of decision.responseHeaders) applyOps(ctx.response.headers, o);
    }
  };
}

function applyOps(headers: HeaderMap, o: HeaderOps): void {
  for (const [name, value] of o.set) headers.set(name, value);
  for (const [name, value] of o.add) headers.append(name, value);
  for (const name of o.remove) headers.delete(name);
}

/** HTTP status → gRPC code, per grpc/doc/http-grpc-status-mapping.md. */
function grpcCodeFor(status: number): number {
  if (status === 400) return 13; // INTERNAL
  if (status === 401) return 16; // UNAUTHENTICATED
  if (status === 403) return 7; // PERMISSION_DENIED
  if (status === 404) return 12; // UNIMPLEMENTED
  if (status === 429 || status === 502 || status === 503 || status === 504) return 14; // UNAVAILABLE
  return 2; // UNKNOWN
}

function localReply(ctx: RequestContext, status: number, grpcStatus: number | null, details: string): void {
  if (!ctx.grpc) return ctx.respond(status, { details });
  ctx.respond(200, { headers: { "content-type": "application/grpc", "grpc-status": String(grpcStatus ?? grpcCodeFor(status)), "grpc-message": details }, details });
}
