/**
 * `mesh token create|list|revoke`: node tokens with which ztunnels obtain workload certificates, and
 * waypoint tokens (--waypoint NS/NAME), which obtain only that waypoint's identity and config.
 */
import { MeshError } from "../../errors/mesh-error.ts";
import { checkTokenTtl } from "../../controlplane/ca/token-ttl.ts";
import { formatGatewayRef, parseGatewayRef } from "../../identity/gateway-ref.ts";
import { formatDuration } from "../../util/duration.ts";
import { API_CLIENT_OPTIONS, apiClient } from "../api-client.ts";
import { formatColumns } from "../columns.ts";
import type { Command } from "../command.ts";

interface TokenRecord {
  id: string;
  node?: string;
  waypoint?: string;
  issuedAt: string;
  expiresAt: string;
  revoked: boolean;
}

function table(items: readonly TokenRecord[]): string {
  if (items.length === 0) return "No tokens found.";
  return formatColumns([["ID", "FOR", "EXPIRES", "STATE"], ...items.map((t) => [t.id, t.waypoint ? `waypoint ${t.waypoint}` : (t.node ?? ""), t.expiresAt, t.revoked ? "revoked" : Date.parse(t.expiresAt) < Date.now() ? "expired" : "valid"])]);
}

export const tokenCommand: Command = {
  name: "token",
  summary: "create, list or revoke node and waypoint tokens (a proxy's credential for the CA and xDS)",
  usage: "create (--node NAME | --waypoint NS/NAME) [--ttl D] | list | revoke (ID | --node NAME | --waypoint NS/NAME)",
  positionals: { min: 1, max: 2 },
  options: [
    { name: "node", type: "string", arg: "NAME", description: "the node the token speaks for (create), or whose tokens to revoke" },
    { name: "waypoint", type: "string", arg: "NS/NAME", description: "a waypoint Gateway: its token gets only its replicas' identity and config (create), or whose tokens to revoke" },
    { name: "ttl", type: "duration", default: "24h", description: "token lifetime (create), 1s to 365d" },
    ...API_CLIENT_OPTIONS,
  ],
  run: async ({ options, positionals, out }) => {
    const [verb, id] = positionals as [string, string | undefined];
    const client = apiClient(options);
    const node = options.node as string | undefined;
    const waypointText = options.waypoint as string | undefined;
    const waypoint = waypointText === undefined ? undefined : formatGatewayRef(parseGatewayRef(waypointText, "--waypoint"));
    if (node && waypoint) throw new MeshError("invalid_argument", "give --node or --waypoint, not both", { detail: { path: "--waypoint" } });
    const subject = waypoint ? { waypoint } : node ? { node } : undefined;
    switch (verb) {
      case "create": {
        if (!subject) throw new MeshError("invalid_argument", "mesh token create needs --node NAME or --waypoint NS/NAME", { detail: { path: "--node" } });
        const ttl = checkTokenTtl(options.ttl as number, "--ttl");
        const created = await client.request<{ token: string }>("POST", "/api/v1/tokens", JSON.stringify({ ...subject, ttl: formatDuration(ttl) }), "application/json");
        out(created.token);
        return 0;
      }
      case "list":
        out(table((await client.request<{ items: TokenRecord[] }>("GET", "/api/v1/tokens")).items));
        return 0;
      case "revoke": {
        if (!id && !subject) throw new MeshError("invalid_argument", "mesh token revoke needs a token ID, --node NAME or --waypoint NS/NAME");
        const revoked = (await client.request<{ items: TokenRecord[] }>("POST", "/api/v1/tokens/revoke", JSON.stringify(id ? { id } : subject), "application/json")).items;
        out(revoked.length === 0 ? "nothing to revoke" : revoked.map((t) => `token/${t.id} (${t.waypoint ? `waypoint ${t.waypoint}` : `node ${t.node ?? ""}`}) revoked`).join("\n"));
        return 0;
      }
      default:
        throw new MeshError("invalid_argument", `unknown token command "${verb}"`, { detail: { accepted: ["create", "list", "revoke"] } });
    }
  },
};
