/**
 * The CA as an RPC: Istio's IstioCertificateService.CreateCertificate (same package, service and
 * fields), so a ztunnel — or an Istio agent — can ask for a workload certificate. The caller
 * authenticates with a node token (`authorization: Bearer …`, checked by the listener before the
 * CSR is read); the CA signs only identities of workloads bound to that node in the registry, and
 * the node certificate of that node itself. A waypoint token gets exactly its Gateway's identity:
 * the service account of that Gateway's replicas (WorkloadEntries labelled with its name, in its
 * namespace), and no node certificate. A node certificate does not authenticate a CSR: it
 * cannot renew itself past a revoked token, and it names the token it was issued against, so it
 * stops authenticating when that token is revoked or expires. Every refusal is logged with its reason.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import { MeshError } from "../../errors/mesh-error.ts";
import { toConnectError } from "../../errors/grpc-code.ts";
import type { IstioCertificateService } from "../../gen/istio/v1/auth/ca_pb.ts";
import { formatSpiffeId, type WorkloadIdentity } from "../../identity/spiffe.ts";
import type { Logger } from "../../telemetry/log.ts";
import type { MetricsRegistry } from "../../telemetry/metrics.ts";
import type { GatewayRef } from "../../identity/gateway-ref.ts";
import { describePrincipal, PROXY_PRINCIPAL, type ProxyPrincipal } from "../xds/principal.ts";
import { inspectCsr, signFor, type CaMaterial, type CaSettings, type CsrSubject } from "./authority.ts";

/** The registry's answers the CA needs: which identities a node runs, and a waypoint's. */
export interface IdentityBindings {
  /** Is this identity one of the workloads bound to this node? */
  isBound(node: string, identity: WorkloadIdentity): boolean;
  /** The service accounts of this Gateway's replicas (normally one). */
  waypointServiceAccounts(gateway: GatewayRef): readonly string[];
}

/** May this principal have a certificate for this subject? Throws a permission_denied MeshError when not. */
export function authorizeCsr(principal: ProxyPrincipal | undefined, subject: CsrSubject, bindings: IdentityBindings): void {
  if (!principal) throw new MeshError("unauthenticated", "no node token");
  if (principal.via !== "token") throw new MeshError("permission_denied", "certificates are issued against the node token, not a node certificate");
  if (principal.waypoint) {
    const gateway = principal.waypoint;
    if (subject.kind === "node") throw new MeshError("permission_denied", `${describePrincipal(principal)} cannot have a node certificate`);
    const own = subject.identity.namespace === gateway.namespace && bindings.waypointServiceAccounts(gateway).includes(subject.identity.serviceAccount);
    if (!own) throw new MeshError("permission_denied", `${describePrincipal(principal)} is not ${formatSpiffeId(subject.identity)} (only its replicas' service account)`);
    return;
  }
  if (subject.kind === "node") {
    if (subject.node !== principal.node) throw new MeshError("permission_denied", `node ${principal.node} cannot have the node certificate of ${subject.node}`);
    return;
  }
  if (!bindings.isBound(principal.node, subject.identity)) throw new MeshError("permission_denied", `node ${principal.node} runs no workload with identity ${formatSpiffeId(subject.identity)}`);
}

export interface CaServiceDeps {
  readonly material: () => CaMaterial;
  readonly settings: CaSettings;
  readonly bindings: IdentityBindings;
  readonly log: Logger;
  readonly metrics: MetricsRegistry;
  readonly now?: () => Date;
}

export function caService(deps: CaServiceDeps): ServiceImpl<typeof IstioCertificateService> {
  const now = deps.now ?? (() => new Date());
  const issued = deps.metrics.counter("citadel_server_success_cert_issuance_count", "Certificates issued.");
  const refused = deps.metrics.counter("citadel_server_csr_refusals_total", "Certificate requests refused, by reason.", ["reason"]);
  const signTime = deps.metrics.histogram("citadel_server_csr_sign_seconds", "Time to check and sign a CSR.", [], [0.001, 0.005, 0.01, 0.05, 0.1, 0.5]);
  return {
    async createCertificate(req, ctx) {
      const started = performance.now();
      const principal = ctx.values.get(PROXY_PRINCIPAL);
      const node = principal?.node ?? (principal ? describePrincipal(principal) : "(unauthenticated)");
      try {
        const inspected = await inspectCsr(req.csr, deps.settings);
        authorizeCsr(principal, inspected.subject, deps.bindings);
        const ttlMs = Number(req.validityDuration) * 1000;
        const result = await signFor(deps.material(), deps.settings, inspected, ttlMs, now(), principal?.tokenId);
        issued.labels().inc();
        signTime.labels().observe((performance.now() - started) / 1000);
        deps.log.debug("certificate issued", { node, identity: result.uri, notAfter: result.notAfter.toISOString() });
        return { certChain: [...result.chain] };
      } catch (err) {
        const e = MeshError.from(err);
        refused.labels({ reason: e.code }).inc();
        deps.log.warn("certificate request refused", { node, reason: e.code, error: e.message, peer: ctx.requestHeader.get("x-forwarded-for") ?? undefined });
        throw toConnectError(e);
      }
    },
  };
}
