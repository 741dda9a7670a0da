/** `mesh token create|list|revoke`: node tokens with which ztunnels obtain workload certificates. */
import { MeshError } from "../../errors/mesh-error.ts";
import { checkTokenTtl } from "../../controlplane/ca/token-ttl.ts";
import { formatDuration } from "../../util/duration.ts";
import { API_CLIENT_OPTIONS, apiClient } from "../api-client.ts";
import { formatColumns } from "../columns.ts";
import type { Command } from "../command.ts";

interface TokenRecord {
  id: string;
  node: string;
  issuedAt: string;
  expiresAt: string;
  revoked: boolean;
}

function table(items: readonly TokenRecord[]): string {
  if (items.length === 0) return "No tokens found.";
  return formatColumns([["ID", "NODE", "EXPIRES", "STATE"], ...items.map((t) => [t.id, t.node, t.expiresAt, t.revoked ? "revoked" : Date.parse(t.expiresAt) < Date.now() ? "expired" : "valid"])]);
}

export const tokenCommand: Command = {
  name: "token",
  summary: "create, list or revoke node tokens (a ztunnel's credential for the CA)",
  usage: "create --node NAME [--ttl D] | list | revoke (ID | --node NAME)",
  positionals: { min: 1, max: 2 },
  options: [
    { name: "node", type: "string", arg: "NAME", description: "the node the token speaks for (create), or whose tokens to revoke" },
    { name: "ttl", type: "duration", default: "24h", description: "token lifetime (create), 1s to 365d" },
    ...API_CLIENT_OPTIONS,
  ],
  run: async ({ options, positionals, out }) => {
    const [verb, id] = positionals as [string, string | undefined];
    const client = apiClient(options);
    const node = options.node as string | undefined;
    switch (verb) {
      case "create": {
        if (!node) throw new MeshError("invalid_argument", "mesh token create needs --node NAME", { detail: { path: "--node" } });
        const ttl = checkTokenTtl(options.ttl as number, "--ttl");
        const created = await client.request<{ token: string }>("POST", "/api/v1/tokens", JSON.stringify({ node, ttl: formatDuration(ttl) }), "application/json");
        out(created.token);
        return 0;
      }
      case "list":
        out(table((await client.request<{ items: TokenRecord[] }>("GET", "/api/v1/tokens")).items));
        return 0;
      case "revoke": {
        if (!id && !node) throw new MeshError("invalid_argument", "mesh token revoke needs a token ID or --node NAME");
        const revoked = (await client.request<{ items: TokenRecord[] }>("POST", "/api/v1/tokens/revoke", JSON.stringify(id ? { id } : { node }), "application/json")).items;
        out(revoked.length === 0 ? "nothing to revoke" : revoked.map((t) => `token/${t.id} (node ${t.node}) revoked`).join("\n"));
        return 0;
      }
      default:
        throw new MeshError("invalid_argument", `unknown token command "${verb}"`, { detail: { accepted: ["create", "list", "revoke"] } });
    }
  },
};
