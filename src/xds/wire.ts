/**
 * The boundary between mesh's xDS wire types (src/gen/mesh/xds/v1) and the domain view
 * (view.ts). `encode*` is used by the control plane; `decode*` by proxies, and is fallible: a
 * resource that does not make sense is refused with its name and the field at fault, and only
 * that resource is NACKed.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { isInterfaceName } from "../net/interface-name.ts";
import { parseCidr } from "../net/ip.ts";
import { bad, ipBytes, ipText, port } from "./wire-checks.ts";
import {
  AuthorizationAction,
  AuthorizationSchema,
  AuthorizationScope,
  MtlsMode as WireMtlsMode,
  ServiceSchema,
  TrustBundleSchema,
  WorkloadSchema,
  type Authorization,
  type Port,
  type Service,
  type WaypointRef as WireWaypointRef,
  type Workload,
} from "../gen/mesh/xds/v1/workload_pb.ts";
import type { AuthorizationView, MtlsMode, PortMapping, ServiceView, TrustBundleView, WaypointRef, WorkloadView } from "../state/view.ts";
import { AUTHORIZATION_TYPE, SERVICE_TYPE, TRUST_BUNDLE_TYPE, WORKLOAD_TYPE } from "./type-urls.ts";

const MTLS_TO_WIRE: Record<MtlsMode, WireMtlsMode> = { permissive: WireMtlsMode.PERMISSIVE, strict: WireMtlsMode.STRICT, disable: WireMtlsMode.DISABLE };

function mtlsFromWire(mode: WireMtlsMode): MtlsMode {
  if (mode === WireMtlsMode.STRICT) return "strict";
  if (mode === WireMtlsMode.DISABLE) return "disable";
  return "permissive";
}

const portsToWire = (ports: readonly PortMapping[]) => ports.map((p) => ({ servicePort: p.servicePort, targetPort: p.targetPort }));

function portsFromWire(resource: string, field: string, ports: readonly Port[]): PortMapping[] {
  return ports.map((p, i) => ({
    servicePort: port(resource, `${field}[${i}].service_port`, p.servicePort),
    targetPort: port(resource, `${field}[${i}].target_port`, p.targetPort, true),
  }));
}

function waypointFromWire(resource: string, w: WireWaypointRef | undefined): WaypointRef | undefined {
  if (!w) return undefined;
  if (!w.name || !w.namespace) throw bad(resource, "waypoint", "needs a namespace and a name");
  return { namespace: w.namespace, name: w.name, hbonePort: port(resource, "waypoint.hbone_port", w.hbonePort) };
}

export function encodeWorkload(w: WorkloadView): Uint8Array {
  return toBinary(
    WorkloadSchema,
    create(WorkloadSchema, {
      uid: w.uid,
      name: w.name,
      namespace: w.namespace,
      addresses: w.addresses.map(ipBytes),
      node: w.node,
      serviceAccount: w.serviceAccount,
      trustDomain: w.trustDomain,
      labels: { ...w.labels },
      services: Object.fromEntries(Object.entries(w.services).map(([k, ports]) => [k, { ports: portsToWire(ports) }])),
      ...(w.waypoint ? { waypoint: { ...w.waypoint } } : {}),
      authorizationPolicies: [...w.authorizationPolicies],
      mtlsMode: MTLS_TO_WIRE[w.mtlsMode],
      portMtlsModes: Object.fromEntries(Object.entries(w.portMtlsModes).map(([p, m]) => [p, MTLS_TO_WIRE[m]])),
      captured: w.captured,
      network: w.network,
      hostInterface: w.hostInterface ?? "",
    }),
  );
}

export function decodeWorkload(name: string, bytes: Uint8Array): WorkloadView {
  let w: Workload;
  try {
    w = fromBinary(WorkloadSchema, bytes);
  } catch (err) {
    throw bad(name, "(message)", `not a Workload: ${(err as Error).message}`);
  }
  if (`${w.namespace}/${w.name}` !== name) throw bad(name, "name", `resource is named ${name} but holds ${w.namespace}/${w.name}`);
  if (w.addresses.length === 0) throw bad(name, "addresses", "a workload needs an address");
  if (!w.serviceAccount) throw bad(name, "service_account", "required");
  if (!w.trustDomain) throw bad(name, "trust_domain", "required");
  const waypoint = waypointFromWire(name, w.waypoint);
  return {
    uid: w.uid,
    name: w.name,
    namespace: w.namespace,
    addresses: w.addresses.map((a, i) => ipText(name, `addresses[${i}]`, a)),
    node: w.node,
    serviceAccount: w.serviceAccount,
    trustDomain: w.trustDomain,
    labels: { ...w.labels },
    services: Object.fromEntries(Object.entries(w.services).map(([k, list]) => [k, portsFromWire(name, `services["${k}"]`, list.ports)])),
    ...(waypoint ? { waypoint } : {}),
    authorizationPolicies: [...w.authorizationPolicies],
    mtlsMode: mtlsFromWire(w.mtlsMode),
    portMtlsModes: Object.fromEntries(Object.entries(w.portMtlsModes).map(([p, m]) => [port(name, `port_mtls_modes["${p}"]`, Number(p)), mtlsFromWire(m)])),
    captured: w.captured,
    network: w.network,
    ...(w.hostInterface ? { hostInterface: hostInterface(name, w.hostInterface) } : {}),
  };
}

function hostInterface(resource: string, name: string): string {
  if (!isInterfaceName(name)) throw bad(resource, "host_interface", `not a network interface name: ${JSON.stringify(name)}`);
  return name;
}

export function encodeService(s: ServiceView): Uint8Array {
  return toBinary(
    ServiceSchema,
    create(ServiceSchema, {
      name: s.name,
      namespace: s.namespace,
      hostname: s.hostname,
      vips: s.vips.map(ipBytes),
      ports: portsToWire(s.ports),
      ...(s.waypoint ? { waypoint: { ...s.waypoint } } : {}),
    }),
  );
}

export function decodeService(name: string, bytes: Uint8Array): ServiceView {
  let s: Service;
  try {
    s = fromBinary(ServiceSchema, bytes);
  } catch (err) {
    throw bad(name, "(message)", `not a Service: ${(err as Error).message}`);
  }
  if (`${s.namespace}/${s.hostname}` !== name) throw bad(name, "hostname", `resource is named ${name} but holds ${s.namespace}/${s.hostname}`);
  const waypoint = waypointFromWire(name, s.waypoint);
  return {
    name: s.name,
    namespace: s.namespace,
    hostname: s.hostname,
    vips: s.vips.map((v, i) => ipText(name, `vips[${i}]`, v)),
    ports: portsFromWire(name, "ports", s.ports),
    ...(waypoint ? { waypoint } : {}),
  };
}

const SCOPE_TO_WIRE = { global: AuthorizationScope.GLOBAL, namespace: AuthorizationScope.NAMESPACE, workload: AuthorizationScope.WORKLOAD_SELECTOR } as const;

export function encodeAuthorization(a: AuthorizationView): Uint8Array {
  return toBinary(
    AuthorizationSchema,
    create(AuthorizationSchema, {
      name: a.name,
      namespace: a.namespace,
      scope: SCOPE_TO_WIRE[a.scope],
      action: a.action === "deny" ? AuthorizationAction.DENY : AuthorizationAction.ALLOW,
      rules: a.rules.map((r) => ({
        from: r.from.map((f) => ({
          principals: [...f.principals],
          notPrincipals: [...f.notPrincipals],
          namespaces: [...f.namespaces],
          notNamespaces: [...f.notNamespaces],
          ipBlocks: [...f.ipBlocks],
          notIpBlocks: [...f.notIpBlocks],
        })),
        to: r.to.map((t) => ({ ports: [...t.ports], notPorts: [...t.notPorts] })),
        when: r.when.map((c) => ({ key: c.key, values: [...c.values], notValues: [...c.notValues] })),
      })),
    }),
  );
}

const WHEN_KEYS = new Set(["source.ip", "source.namespace", "source.principal", "destination.ip", "destination.port"]);

export function decodeAuthorization(name: string, bytes: Uint8Array): AuthorizationView {
  let a: Authorization;
  try {
    a = fromBinary(AuthorizationSchema, bytes);
  } catch (err) {
    throw bad(name, "(message)", `not an Authorization: ${(err as Error).message}`);
  }
  if (`${a.namespace}/${a.name}` !== name) throw bad(name, "name", `resource is named ${name} but holds ${a.namespace}/${a.name}`);
  // An unknown action must not be guessed: refusing the resource keeps the last good policy.
  if (a.action !== AuthorizationAction.ALLOW && a.action !== AuthorizationAction.DENY) throw bad(name, "action", `unknown action ${a.action}`);
  const scope = a.scope === AuthorizationScope.GLOBAL ? "global" : a.scope === AuthorizationScope.NAMESPACE ? "namespace" : a.scope === AuthorizationScope.WORKLOAD_SELECTOR ? "workload" : null;
  if (!scope) throw bad(name, "scope", `unknown scope ${a.scope}`);
  return {
    name: a.name,
    namespace: a.namespace,
    scope,
    action: a.action === AuthorizationAction.DENY ? "deny" : "allow",
    rules: a.rules.map((r, i) => ({
      from: r.from.map((f, j) => {
        for (const [field, blocks] of [["ip_blocks", f.ipBlocks], ["not_ip_blocks", f.notIpBlocks]] as const) {
          blocks.forEach((b, k) => {
            if (!parseCidr(b)) throw bad(name, `rules[${i}].from[${j}].${field}[${k}]`, `"${b}" is not an IP or CIDR`);
          });
        }
        return { principals: [...f.principals], notPrincipals: [...f.notPrincipals], namespaces: [...f.namespaces], notNamespaces: [...f.notNamespaces], ipBlocks: [...f.ipBlocks], notIpBlocks: [...f.notIpBlocks] };
      }),
      to: r.to.map((t, j) => ({
        ports: t.ports.map((p, k) => port(name, `rules[${i}].to[${j}].ports[${k}]`, p)),
        notPorts: t.notPorts.map((p, k) => port(name, `rules[${i}].to[${j}].not_ports[${k}]`, p)),
      })),
      when: r.when.map((c, j) => {
        if (!WHEN_KEYS.has(c.key)) throw bad(name, `rules[${i}].when[${j}].key`, `"${c.key}" is not an L4 condition`);
        return { key: c.key, values: [...c.values], notValues: [...c.notValues] };
      }),
    })),
  };
}

export function encodeTrustBundle(b: TrustBundleView): Uint8Array {
  return toBinary(TrustBundleSchema, create(TrustBundleSchema, { trustDomain: b.trustDomain, roots: [...b.roots], generation: BigInt(b.generation) }));
}

/**
 * Structural checks only (each root is one PEM certificate block); src/identity checks that the
 * roots are CA certificates before a proxy installs them (its decoder wraps this one).
 */
export function decodeTrustBundle(name: string, bytes: Uint8Array): TrustBundleView {
  let b;
  try {
    b = fromBinary(TrustBundleSchema, bytes);
  } catch (err) {
    throw bad(name, "(message)", `not a TrustBundle: ${(err as Error).message}`);
  }
  if (b.trustDomain !== name) throw bad(name, "trust_domain", `resource is named ${name} but holds ${b.trustDomain}`);
  if (b.roots.length === 0) throw bad(name, "roots", "a trust bundle needs at least one root");
  b.roots.forEach((pem, i) => {
    const blocks = pem.match(/-----BEGIN CERTIFICATE-----/g)?.length ?? 0;
    if (blocks !== 1 || !pem.includes("-----END CERTIFICATE-----")) throw bad(name, `roots[${i}]`, "must be exactly one PEM certificate");
  });
  return { trustDomain: b.trustDomain, roots: [...b.roots], generation: Number(b.generation) };
}

/** Decoders by type URL, for the client. */
export const DECODERS = {
  [WORKLOAD_TYPE]: decodeWorkload,
  [SERVICE_TYPE]: decodeService,
  [AUTHORIZATION_TYPE]: decodeAuthorization,
  [TRUST_BUNDLE_TYPE]: decodeTrustBundle,
} as const;
