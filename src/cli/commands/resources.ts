/** `mesh apply`, `mesh get`, `mesh delete`: kubectl-style resource commands against the control plane API. */
import { readFileSync } from "node:fs";
import { stringify } from "yaml";
import { MeshError } from "../../errors/mesh-error.ts";
import { kindByName } from "../../controlplane/resources/registry.ts";
import type { StoredResource } from "../../controlplane/resources/resource.ts";
import { API_CLIENT_OPTIONS, apiClient } from "../api-client.ts";
import type { Command, CommandContext } from "../command.ts";
import { readDocuments } from "../read-documents.ts";
import { renderTable } from "../resource-table.ts";

export interface ChangeItem {
  kind: string;
  namespace: string;
  name: string;
  outcome: string;
}

export interface DocumentIssues {
  ref: string;
  issues: Array<{ path: string; message: string }>;
}

const OUTCOME_WORDS: Record<string, string> = { created: "created", updated: "configured", unchanged: "unchanged", deleted: "deleted", valid: "valid (dry run)" };

export function changeLine(i: ChangeItem): string {
  const def = kindByName(i.kind);
  const name = def?.namespaced ? `${i.namespace}/${i.name}` : i.name;
  return `${(def?.kind ?? i.kind).toLowerCase()}/${name} ${OUTCOME_WORDS[i.outcome] ?? i.outcome}`;
}

function readInput(ctx: CommandContext): string {
  return readDocuments(ctx.options.filename as string, () => readFileSync(0, "utf8")).text;
}

export const applyCommand: Command = {
  name: "apply",
  summary: "create or update resources from YAML/JSON documents (all-or-nothing)",
  options: [
    { name: "filename", short: "f", type: "string", arg: "FILE|DIR|-", required: true, description: "documents to apply; a directory applies every .yaml/.yml/.json in it; - reads standard input" },
    { name: "dry-run", type: "bool", description: "validate on the server without storing anything" },
    ...API_CLIENT_OPTIONS,
  ],
  run: async (ctx) => {
    const text = readInput(ctx);
    const query = ctx.options["dry-run"] ? "?dryRun=true" : "";
    const res = await apiClient(ctx.options).request<{ items: ChangeItem[]; warnings: DocumentIssues[] }>("POST", `/api/v1/apply${query}`, text);
    for (const w of res.warnings) for (const i of w.issues) ctx.err(`Warning: ${w.ref}: ${i.path}: ${i.message}`);
    ctx.out(res.items.map(changeLine).join("\n"));
    return 0;
  },
};

/** -o yaml|json: print and say so; tables are the caller's job. */
function printStructured(ctx: CommandContext, output: string, value: unknown): boolean {
  if (output === "yaml") ctx.out(stringify(value).trimEnd());
  else if (output === "json") ctx.out(JSON.stringify(value, null, 2));
  else return false;
  return true;
}

export const getCommand: Command = {
  name: "get",
  summary: "list or show resources",
  usage: "KIND [NAME]",
  positionals: { min: 1, max: 2 },
  options: [
    { name: "namespace", short: "n", type: "string", arg: "NS", description: "namespace (default: every namespace for lists, default for a named resource)" },
    { name: "output", short: "o", type: "enum", values: ["table", "wide", "yaml", "json"], default: "table", description: "output format" },
    ...API_CLIENT_OPTIONS,
  ],
  run: async (ctx) => {
    const [kindName, name] = ctx.positionals as [string, string | undefined];
    const def = kindByName(kindName);
    if (!def) throw new MeshError("invalid_argument", `unknown resource type "${kindName}"`);
    const ns = ctx.options.namespace as string | undefined;
    const client = apiClient(ctx.options);
    const output = ctx.options.output as string;
    let items: StoredResource[];
    if (name !== undefined) {
      const path = def.namespaced ? `/api/v1/namespaces/${encodeURIComponent(ns ?? "default")}/${def.plural}/${encodeURIComponent(name)}` : `/api/v1/${def.plural}/${encodeURIComponent(name)}`;
      const one = await client.request<StoredResource>("GET", path);
      if (printStructured(ctx, output, one)) return 0;
      items = [one];
    } else {
      const path = def.namespaced && ns ? `/api/v1/namespaces/${encodeURIComponent(ns)}/${def.plural}` : `/api/v1/${def.plural}`;
      const listed = await client.request<{ items: StoredResource[] }>("GET", path);
      if (printStructured(ctx, output, { apiVersion: "v1", kind: "List", items: listed.items })) return 0;
      items = listed.items;
    }
    ctx.out(renderTable(items, { allNamespaces: name === undefined && !ns, wide: output === "wide", now: new Date() }));
    return 0;
  },
};

export const deleteCommand: Command = {
  name: "delete",
  summary: "delete resources named in files (all-or-nothing) or by kind and name",
  usage: "[KIND NAME]",
  positionals: { min: 0, max: 2 },
  options: [
    { name: "filename", short: "f", type: "string", arg: "FILE|DIR|-", description: "delete the resources these documents name" },
    { name: "namespace", short: "n", type: "string", arg: "NS", default: "default", description: "namespace of KIND NAME" },
    ...API_CLIENT_OPTIONS,
  ],
  run: async (ctx) => {
    const client = apiClient(ctx.options);
    let items: ChangeItem[];
    if (ctx.options.filename !== undefined) {
      if (ctx.positionals.length > 0) throw new MeshError("invalid_argument", "give either -f FILE or KIND NAME, not both");
      items = (await client.request<{ items: ChangeItem[] }>("POST", "/api/v1/delete", readInput(ctx))).items;
    } else {
      if (ctx.positionals.length !== 2) throw new MeshError("invalid_argument", "mesh delete needs -f FILE or KIND NAME");
      const [kindName, name] = ctx.positionals as [string, string];
      const def = kindByName(kindName);
      if (!def) throw new MeshError("invalid_argument", `unknown resource type "${kindName}"`);
      const path = def.namespaced
        ? `/api/v1/namespaces/${encodeURIComponent(ctx.options.namespace as string)}/${def.plural}/${encodeURIComponent(name)}`
        : `/api/v1/${def.plural}/${encodeURIComponent(name)}`;
      items = (await client.request<{ items: ChangeItem[] }>("DELETE", path)).items;
    }
    ctx.out(items.map((i) => changeLine({ ...i, outcome: "deleted" })).join("\n"));
    return 0;
  },
};
