/**
 * `mesh ztunnel-config workloads|services|policies|certificates|connections|all`: what a ztunnel
 * knows and does, read from its admin endpoint (127.0.0.1:15000 on its node) and printed as
 * tables (or JSON with -o json) — istioctl's `ztunnel-config`.
 */
import { MeshError } from "../../errors/mesh-error.ts";
import { formatHostPort, parseHostPort } from "../../util/host-port.ts";
import type { configDump } from "../../ztunnel/admin.ts";
import type { Command } from "../command.ts";
import { formatColumns } from "../columns.ts";

type Dump = ReturnType<typeof configDump>;

export const ZTUNNEL_CONFIG_VIEWS = ["workloads", "services", "policies", "certificates", "connections", "all"] as const;
type View = (typeof ZTUNNEL_CONFIG_VIEWS)[number];

const dash = (v: unknown) => (v === undefined || v === null || v === "" ? "-" : String(v));

/** The table for one view of a config dump (pure). */
export function ztunnelConfigTable(view: Exclude<View, "all">, dump: Dump): string {
  switch (view) {
    case "workloads":
      return formatColumns([
        ["NAMESPACE", "NAME", "ADDRESS", "NODE", "IDENTITY", "WAYPOINT", "PROTOCOL"],
        ...dump.workloads.map((w) => [w.namespace, w.name, w.addresses.join(","), `${w.node}${w.local ? "*" : ""}`, `spiffe://${w.trustDomain}/ns/${w.namespace}/sa/${w.serviceAccount}`, w.waypoint ? `${w.waypoint.namespace}/${w.waypoint.name}` : "-", w.captured ? "HBONE" : "TCP"]),
      ]);
    case "services":
      return formatColumns([
        ["NAMESPACE", "NAME", "HOSTNAME", "VIPS", "PORTS", "WAYPOINT", "ENDPOINTS"],
        ...dump.services.map((s) => [s.namespace, s.name, s.hostname, dash(s.vips.join(",")), s.ports.map((p) => (p.targetPort ? `${p.servicePort}->${p.targetPort}` : String(p.servicePort))).join(","), s.waypoint ? `${s.waypoint.namespace}/${s.waypoint.name}` : "-", String(s.endpoints.length)]),
      ]);
    case "policies":
      return formatColumns([["NAMESPACE", "NAME", "ACTION", "SCOPE", "RULES"], ...dump.policies.map((p) => [p.namespace, p.name, p.action.toUpperCase(), p.scope, String(p.rules.length)])]);
    case "certificates":
      return formatColumns([["IDENTITY", "STATE", "SERIAL", "NOT AFTER", "FAILURES", "LAST ERROR"], ...dump.certificates.map((c) => [c.spiffeId, c.state, dash(c.serial), dash(c.notAfter), String(c.failures), dash(c.lastError)])]);
    case "connections":
      return formatColumns([
        ["DIRECTION", "SOURCE", "SOURCE WORKLOAD", "DESTINATION", "HBONE AUTHORITY", "DESTINATION WORKLOAD", "MTLS", "AGE"],
        ...dump.connections.map((c) => [c.direction, c.src, dash(c.srcWorkload), c.dst, dash(c.hboneAddr), dash(c.dstWorkload), c.mtls ? "yes" : "no", `${Math.round(c.ageMs / 1000)}s`]),
      ]);
  }
}

export const ztunnelConfigCommand: Command = {
  name: "ztunnel-config",
  summary: "show what a ztunnel knows: workloads, services, policies, certificates, connections",
  usage: ZTUNNEL_CONFIG_VIEWS.join("|"),
  positionals: { min: 1, max: 1 },
  options: [
    { name: "admin-address", type: "address", arg: "HOST:PORT", default: "127.0.0.1:15000", description: "the ztunnel's admin endpoint (run this on its node)" },
    { name: "output", short: "o", type: "enum", values: ["table", "json"], default: "table", description: "output format" },
  ],
  run: async ({ options, positionals, out }) => {
    const view = positionals[0] as View;
    if (!(ZTUNNEL_CONFIG_VIEWS as readonly string[]).includes(view)) {
      throw new MeshError("invalid_argument", `unknown view ${JSON.stringify(view)}`, { detail: { path: "VIEW", accepted: ZTUNNEL_CONFIG_VIEWS } });
    }
    const address = formatHostPort(parseHostPort(options["admin-address"] as string, "127.0.0.1"));
    let dump: Dump;
    try {
      const res = await fetch(`http://${address}/config_dump`, { signal: AbortSignal.timeout(5000) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      dump = (await res.json()) as Dump;
    } catch (err) {
      throw new MeshError("unavailable", `cannot read the ztunnel admin endpoint at ${address}: ${(err as Error).message}`, { cause: err });
    }
    if (options.output === "json") {
      out(JSON.stringify(view === "all" ? dump : dump[view], null, 2));
      return 0;
    }
    const views = view === "all" ? (["workloads", "services", "policies", "certificates", "connections"] as const) : [view];
    out(views.map((v) => (view === "all" ? `${v.toUpperCase()}\n` : "") + ztunnelConfigTable(v, dump)).join("\n\n"));
    return 0;
  },
};
