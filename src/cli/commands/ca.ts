/** `mesh ca status`, `mesh ca rotate prepare|activate|retire`: the CA's roots and their rotation. */
import { MeshError } from "../../errors/mesh-error.ts";
import { API_CLIENT_OPTIONS, apiClient } from "../api-client.ts";
import { formatColumns } from "../columns.ts";
import type { Command } from "../command.ts";

interface CaStatus {
  plugin: boolean;
  generation: number;
  roots: Array<{ serial: string; notAfter: string; signing: boolean; prepared: boolean }>;
}

function render(s: CaStatus): string {
  const role = (r: CaStatus["roots"][number]) => (r.signing ? "signing" : r.prepared ? "prepared (trusted, not signing yet)" : "trusted (retire when every proxy renewed)");
  return `generation ${s.generation}${s.plugin ? " (plug-in CA)" : ""}\n${formatColumns([["ROOT SERIAL", "EXPIRES", "ROLE"], ...s.roots.map((r) => [r.serial, r.notAfter, role(r)])])}`;
}

export const caCommand: Command = {
  name: "ca",
  summary: "show the CA's roots, or rotate the root one step (prepare, activate, retire)",
  usage: "status | rotate prepare|activate|retire",
  positionals: { min: 1, max: 2 },
  options: [...API_CLIENT_OPTIONS],
  run: async ({ options, positionals, out }) => {
    const [verb, phase] = positionals as [string, string | undefined];
    const client = apiClient(options);
    if (verb === "status") {
      out(render(await client.request<CaStatus>("GET", "/api/v1/ca")));
      return 0;
    }
    if (verb === "rotate") {
      if (!phase) throw new MeshError("invalid_argument", "mesh ca rotate needs a step", { detail: { accepted: ["prepare", "activate", "retire"] } });
      out(render(await client.request<CaStatus>("POST", "/api/v1/ca/rotate", JSON.stringify({ phase }), "application/json")));
      return 0;
    }
    throw new MeshError("invalid_argument", `unknown ca command "${verb}"`, { detail: { accepted: ["status", "rotate"] } });
  },
};
