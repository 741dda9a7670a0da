/**
 * The operator CLI's client for the control plane REST API: the admin token from a flag, the
 * environment or a token file, and API errors (Kubernetes-style Status bodies) turned back into
 * MeshErrors with the server's message, so `mesh apply` prints exactly what was wrong.
 */
import { existsSync, readFileSync } from "node:fs";
import { MeshError } from "../errors/mesh-error.ts";
import { errorCodeForHttpStatus } from "../errors/http-status.ts";
import type { OptionSpec, OptionValues } from "./options.ts";

export const API_CLIENT_OPTIONS: readonly OptionSpec[] = [
  { name: "server", type: "string", arg: "URL", default: "http://127.0.0.1:15014", description: "control plane REST API" },
  { name: "admin-token", type: "string", arg: "TOKEN", description: "admin token for the API" },
  { name: "admin-token-file", type: "string", arg: "FILE", default: "./mesh-data/admin-token", description: "file holding the admin token (used when --admin-token is not given)" },
];

export interface ApiClient {
  /** `body` is YAML (documents) unless `contentType` says otherwise. */
  request<T>(method: string, path: string, body?: string, contentType?: string): Promise<T>;
}

function resolveToken(options: OptionValues): string {
  const token = options["admin-token"] as string | undefined;
  if (token) return token;
  const file = options["admin-token-file"] as string;
  if (!existsSync(file)) {
    throw new MeshError("unauthenticated", `no admin token: pass --admin-token, set MESH_ADMIN_TOKEN, or point --admin-token-file at the control plane's token (${file} does not exist)`);
  }
  return readFileSync(file, "utf8").trim();
}

export function apiClient(options: OptionValues): ApiClient {
  const server = (options.server as string).replace(/\/+$/, "");
  const token = resolveToken(options);
  return {
    async request<T>(method: string, path: string, body?: string, contentType = "application/yaml"): Promise<T> {
      let res: Response;
      try {
        res = await fetch(`${server}${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { "content-type": contentType } : {}) },
          ...(body !== undefined ? { body } : {}),
          signal: AbortSignal.timeout(30_000),
        });
      } catch (err) {
        throw new MeshError("unavailable", `cannot reach the control plane at ${server}: ${(err as Error).message}`, { cause: err });
      }
      const text = await res.text();
      let parsed: unknown;
      try {
        parsed = text === "" ? {} : JSON.parse(text);
      } catch {
        throw new MeshError("internal", `${server}${path}: HTTP ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`);
      }
      if (!res.ok) {
        const status = parsed as { reason?: string; message?: string };
        const code = (status.reason as MeshError["code"] | undefined) ?? errorCodeForHttpStatus(res.status);
        throw new MeshError(code, status.message ?? `HTTP ${res.status}`);
      }
      return parsed as T;
    },
  };
}
