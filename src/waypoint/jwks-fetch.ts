/**
 * How the waypoint fetches a jwksUri outside the mesh (an identity provider's HTTPS endpoint):
 * node:https, trusting the runtime's public roots (Mozilla's, `tls.rootCertificates`) plus the
 * operator's CA bundle (`mesh waypoint --jwks-ca-file`), so a private IdP works without turning
 * verification off. Only https://; bounded by the caller's timeout (the rule's `timeout`), and the
 * caller bounds the body it reads. Mesh services are fetched through the plugin host instead.
 */
import https from "node:https";
import { Readable } from "node:stream";
import tls from "node:tls";
import { MeshError } from "../errors/mesh-error.ts";
import type { PluginFetch } from "../plugin-api/index.ts";

export function outsideJwksFetch(options: { readonly caPem?: string } = {}): PluginFetch {
  const ca = options.caPem ? [...tls.rootCertificates, options.caPem] : undefined;
  return (request, fetchOptions = {}) =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(request.url);
      if (url.protocol !== "https:") return reject(new MeshError("invalid_argument", `${request.url}: a JWKS outside the mesh is fetched over https only`));
      const timeoutMs = fetchOptions.timeoutMs ?? 5000;
      const req = https.request(url, { method: request.method, headers: Object.fromEntries(request.headers.entries()), ...(ca ? { ca } : {}), timeout: timeoutMs }, (res) => {
        const headers = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(", ") : v);
        resolve(new Response(Readable.toWeb(res) as unknown as ReadableStream<Uint8Array>, { status: res.statusCode ?? 502, headers }));
      });
      const fail = (err: unknown) => reject(MeshError.from(err));
      req.on("error", fail);
      req.on("timeout", () => req.destroy(new MeshError("deadline_exceeded", `${request.url}: no answer within ${timeoutMs}ms`)));
      request.signal.addEventListener("abort", () => req.destroy(new MeshError("deadline_exceeded", `${request.url}: aborted`)), { once: true });
      req.end();
    });
}
