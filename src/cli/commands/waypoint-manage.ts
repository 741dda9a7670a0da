/**
 * `mesh waypoint apply|list|status|delete`, as `istioctl waypoint …`: a waypoint's Gateway (and a
 * Namespace enrolled onto it) created, listed, inspected and deleted through the control plane's
 * REST API. What to write and how to read the answers is decided in ../waypoint-resources.ts.
 */
import { stringify } from "yaml";
import { MeshError } from "../../errors/mesh-error.ts";
import { USE_WAYPOINT_LABEL } from "../../controlplane/resources/kinds/namespace.ts";
import type { StoredResource } from "../../controlplane/resources/resource.ts";
import type { WaypointFor } from "../../controlplane/translate/waypoints.ts";
import { API_CLIENT_OPTIONS, apiClient, type ApiClient } from "../api-client.ts";
import type { Command, CommandContext } from "../command.ts";
import type { OptionSpec } from "../options.ts";
import {
  DEFAULT_WAYPOINT_NAME,
  enrolledNamespace,
  isWaypointGateway,
  renderList,
  renderStatus,
  waypointGateway,
  waypointStatus,
  WAYPOINT_FOR_VALUES,
  type ProxyListing,
  type WaypointStatus,
} from "../waypoint-resources.ts";
import { changeLine, type ChangeItem, type DocumentIssues } from "./resources.ts";

const NAMESPACE: OptionSpec = { name: "namespace", short: "n", type: "string", arg: "NS", default: "default", description: "namespace of the waypoint" };
const NAME: OptionSpec = { name: "name", type: "string", arg: "NAME", default: DEFAULT_WAYPOINT_NAME, commandLineOnly: true, description: "name of the waypoint's Gateway" };
/** How often --wait asks again. */
const WAIT_POLL_MS = 500;

const enc = encodeURIComponent;

async function getOrUndefined<T>(client: ApiClient, path: string): Promise<T | undefined> {
  try {
    return await client.request<T>("GET", path);
  } catch (err) {
    if (err instanceof MeshError && err.code === "not_found") return undefined;
    throw err;
  }
}

async function listIn(client: ApiClient, plural: string, namespace: string | undefined): Promise<StoredResource[]> {
  const path = namespace === undefined ? `/api/v1/${plural}` : `/api/v1/namespaces/${enc(namespace)}/${plural}`;
  return (await client.request<{ items: StoredResource[] }>("GET", path)).items;
}

async function statusOf(client: ApiClient, namespace: string, name: string): Promise<WaypointStatus> {
  const gateway = await getOrUndefined<StoredResource>(client, `/api/v1/namespaces/${enc(namespace)}/gateways/${enc(name)}`);
  if (!gateway || !isWaypointGateway(gateway)) throw new MeshError("not_found", `no waypoint ${namespace}/${name} (create it with mesh waypoint apply -n ${namespace} --name ${name})`);
  const workloadEntries = await listIn(client, "workloadentries", namespace);
  const nodes = [...new Set(workloadEntries.map((e) => (e.spec as { node?: string }).node).filter((n): n is string => !!n))];
  const proxies: ProxyListing[] = [];
  // Only the replicas' nodes are asked about; each answer is bounded by the API's page size.
  for (const node of nodes) proxies.push(...(await client.request<{ items: ProxyListing[] }>("GET", `/api/v1/xds/proxies?node=${enc(node)}`)).items);
  const { warnings } = await client.request<{ warnings: { resource: string; message: string }[] }>("GET", "/api/v1/analysis");
  return waypointStatus({ gateway, workloadEntries, proxies, warnings });
}

async function waitProgrammed(ctx: CommandContext, client: ApiClient, namespace: string, name: string, timeoutMs: number): Promise<WaypointStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await statusOf(client, namespace, name);
    if (status.programmed) return status;
    if (Date.now() + WAIT_POLL_MS > deadline) {
      ctx.err(renderStatus(status));
      throw new MeshError("deadline_exceeded", `waypoint ${namespace}/${name}: no replica connected within ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, WAIT_POLL_MS));
  }
}

export const waypointApplyCommand: Command = {
  name: "waypoint apply",
  summary: "create or update a waypoint (a Gateway of class istio-waypoint), optionally enrolling its namespace",
  options: [
    NAMESPACE,
    NAME,
    { name: "for", type: "enum", values: WAYPOINT_FOR_VALUES, default: "service", commandLineOnly: true, description: "traffic the waypoint takes (istio.io/waypoint-for)" },
    { name: "enroll-namespace", type: "bool", commandLineOnly: true, description: "label the namespace istio.io/use-waypoint: NAME, so its services use this waypoint" },
    { name: "wait", type: "bool", commandLineOnly: true, description: "wait until a replica of the waypoint is connected to the control plane" },
    { name: "timeout", type: "duration", default: "60s", description: "how long --wait waits" },
    ...API_CLIENT_OPTIONS,
  ],
  run: async (ctx) => {
    const namespace = ctx.options.namespace as string;
    const name = ctx.options.name as string;
    const client = apiClient(ctx.options);
    const docs = [waypointGateway(namespace, name, ctx.options.for as WaypointFor)];
    if (ctx.options["enroll-namespace"]) {
      const existing = await getOrUndefined<StoredResource>(client, `/api/v1/namespaces/${enc(namespace)}`);
      docs.push(enrolledNamespace(namespace, name, existing));
    }
    const yaml = docs.map((d) => stringify(d)).join("---\n");
    const res = await client.request<{ items: ChangeItem[]; warnings: DocumentIssues[] }>("POST", "/api/v1/apply", yaml);
    for (const w of res.warnings) for (const i of w.issues) ctx.err(`Warning: ${w.ref}: ${i.path}: ${i.message}`);
    ctx.out(res.items.map(changeLine).join("\n"));
    if (ctx.options.wait) ctx.out(renderStatus(await waitProgrammed(ctx, client, namespace, name, ctx.options.timeout as number)));
    return 0;
  },
};

export const waypointListCommand: Command = {
  name: "waypoint list",
  summary: "list waypoints with their traffic type and replica count",
  options: [
    { ...NAMESPACE, description: "namespace to list" },
    { name: "all-namespaces", short: "A", type: "bool", description: "list waypoints in every namespace" },
    ...API_CLIENT_OPTIONS,
  ],
  run: async (ctx) => {
    const namespace = ctx.options["all-namespaces"] ? undefined : (ctx.options.namespace as string);
    const client = apiClient(ctx.options);
    const gateways = (await listIn(client, "gateways", namespace)).filter(isWaypointGateway);
    const entries = gateways.length === 0 ? [] : await listIn(client, "workloadentries", namespace);
    ctx.out(renderList(gateways, entries));
    return 0;
  },
};

export const waypointStatusCommand: Command = {
  name: "waypoint status",
  summary: "show whether a waypoint is programmed: its replicas, their xDS connections, translation warnings",
  options: [NAMESPACE, NAME, ...API_CLIENT_OPTIONS],
  run: async (ctx) => {
    const status = await statusOf(apiClient(ctx.options), ctx.options.namespace as string, ctx.options.name as string);
    ctx.out(renderStatus(status));
    return 0;
  },
};

export const waypointDeleteCommand: Command = {
  name: "waypoint delete",
  summary: "delete waypoints by name, or every waypoint of a namespace (--all)",
  usage: "NAME... | --all",
  positionals: { min: 0, max: 64 },
  options: [NAMESPACE, { name: "all", type: "bool", commandLineOnly: true, description: "delete every waypoint in the namespace" }, ...API_CLIENT_OPTIONS],
  run: async (ctx) => {
    const namespace = ctx.options.namespace as string;
    const client = apiClient(ctx.options);
    if (ctx.options.all === (ctx.positionals.length > 0)) throw new MeshError("invalid_argument", "give waypoint NAMEs or --all, not both or neither");
    const names = ctx.options.all ? (await listIn(client, "gateways", namespace)).filter(isWaypointGateway).map((g) => g.metadata.name) : ctx.positionals;
    if (names.length === 0) {
      ctx.out(`No waypoints found in ${namespace}.`);
      return 0;
    }
    // The delete endpoint takes whole documents; only their kind, namespace and name count.
    const docs = names.map((name) => stringify(waypointGateway(namespace, name, "service"))).join("---\n");
    // All or nothing: one missing name deletes none of them.
    const { items } = await client.request<{ items: ChangeItem[] }>("POST", "/api/v1/delete", docs);
    ctx.out(items.map((i) => changeLine({ ...i, outcome: "deleted" })).join("\n"));
    const ns = await getOrUndefined<StoredResource>(client, `/api/v1/namespaces/${enc(namespace)}`);
    const enrolled = ns?.metadata.labels[USE_WAYPOINT_LABEL];
    if (enrolled && names.includes(enrolled)) ctx.err(`Warning: namespace ${namespace} still has istio.io/use-waypoint: ${enrolled}; its services' traffic fails until the label is removed or the waypoint recreated`);
    return 0;
  },
};

export const WAYPOINT_SUBCOMMANDS: readonly Command[] = [waypointApplyCommand, waypointListCommand, waypointStatusCommand, waypointDeleteCommand];
