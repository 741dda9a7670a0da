/**
 * The HTTP/1.1 engine's upstream transport: a try is a node:http request on the hop's keep-alive
 * Agent (HBONE tunnels from the shared pool); the request body is piped natively when no filter
 * read it. A request with a body is never sent twice (it is streamed, not kept): its tries are
 * not resendable; one without a body is.
 */
import http from "node:http";
import { formatEndpoint } from "../net/endpoint.ts";
import type { RequestContext } from "../plugin-api/index.ts";
import type { Logger } from "../telemetry/log.ts";
import { endToEnd } from "./forward-headers.ts";
import { lazyBody, nodeBody } from "./lazy-body.ts";
import { UPSTREAM_CONNECT_FAILED, type Upstream } from "./upstream.ts";
import type { UpstreamHop } from "./upstream-plan.ts";
import type { Exchange, TryOutcome, UpstreamRequest, UpstreamTransport } from "./upstream-transport.ts";

const TIMED_OUT = "MESH_UPSTREAM_TIMEOUT";

export class Http1Upstream implements UpstreamTransport {
  readonly #upstream: Upstream;
  readonly #log: Logger;

  constructor(upstream: Upstream, log: Logger) {
    this.#upstream = upstream;
    this.#log = log;
  }

  #request(hop: UpstreamHop, request: UpstreamRequest): http.ClientRequest {
    return http.request({ host: hop.target.address, port: hop.target.port, method: request.method, path: request.path, headers: { ...request.headers, host: request.authority }, agent: this.#upstream.agentFor(hop), setHost: false });
  }

  send(ctx: RequestContext, exchange: Exchange, hop: UpstreamHop, request: UpstreamRequest, timeoutMs: number): Promise<TryOutcome> {
    const resendable = ctx.request.body === null;
    return new Promise((resolve) => {
      const up = this.#request(hop, request);
      const onAbort = () => up.destroy();
      ctx.signal.addEventListener("abort", onAbort, { once: true });
      up.setTimeout(timeoutMs, () => up.destroy(Object.assign(new Error(`no response within ${timeoutMs} ms`), { code: TIMED_OUT })));
      up.once("response", (response) => {
        up.setTimeout(0);
        ctx.signal.removeEventListener("abort", onAbort);
        resolve({ kind: "response", status: response.statusCode ?? 502, headers: endToEnd(response.rawHeaders), body: lazyBody(response), resendable, discard: () => void response.resume() });
      });
      up.on("error", (err: Error & { code?: string }) => {
        ctx.signal.removeEventListener("abort", onAbort);
        this.#log.debug("upstream try failed", { upstream: formatEndpoint(hop.target), error: err.message });
        resolve({ kind: "failed", failure: err.code === TIMED_OUT ? "timeout" : err.code === UPSTREAM_CONNECT_FAILED ? "connect" : "reset", resendable });
      });
      const body = ctx.request.body;
      if (body === null) return void up.end();
      const source = nodeBody(body);
      source.on("data", (chunk: Uint8Array) => void (exchange.requestBytes += chunk.byteLength));
      source.pipe(up);
    });
  }

  mirror(hop: UpstreamHop, request: UpstreamRequest, body: ReadableStream<Uint8Array> | null, timeoutMs: number, fail: (why: string) => void): void {
    const up = this.#request(hop, request);
    up.setTimeout(timeoutMs, () => up.destroy(new Error("mirror timed out")));
    up.on("response", (r) => r.resume());
    up.on("error", (err) => fail(err.message));
    if (body === null) up.end();
    else nodeBody(body).pipe(up);
  }
}
