/**
 * Whether an inbound connection may reach a workload on this node (pure; the inbound proxy carries
 * it out). HBONE: the CONNECT authority must name a workload on this node — the one the
 * connection was made to, when the listener knows it — then L4 AuthorizationPolicy decides with
 * the peer's verified identity. Plaintext (15006): PeerAuthentication first (STRICT refuses,
 * PERMISSIVE and DISABLE admit), then policy without a principal.
 *
 * Errors carry their HBONE meaning through the code: invalid_argument → 400 (bad authority),
 * permission_denied → 401 (policy).
 */
import { MeshError } from "../errors/mesh-error.ts";
import type { Endpoint } from "../net/endpoint.ts";
import { parseSpiffeId } from "../identity/spiffe.ts";
import { authorize, type ConnectionFacts, type Decision } from "../policy/l4-authorization.ts";
import type { MtlsMode, WorkloadView } from "../state/view.ts";
import type { ZtunnelState } from "./state.ts";

export type Admission =
  | { readonly allowed: true; readonly workload: WorkloadView; readonly facts: ConnectionFacts; readonly decision: Decision }
  | { readonly allowed: false; readonly workload?: WorkloadView; readonly facts?: ConnectionFacts; readonly error: MeshError };

export interface HboneArrival {
  /** spiffe://… of the peer, verified by TLS. */
  readonly peerIdentity: string;
  /** The original client as src/policy/tunnel-source.ts decided it: `forwarded for=` where the peer vouches for it, else the peer's address. */
  readonly source: Endpoint;
  /** The CONNECT authority. */
  readonly target: Endpoint;
  /** The workload address the connection was made to, when known (capture or per-workload listener). */
  readonly arrivedAt?: string;
}

/** Re-evaluate policy for facts already established (open connections after a policy change). */
export function recheck(state: ZtunnelState, workload: WorkloadView, facts: ConnectionFacts): Decision {
  const current = state.workloadAt(facts.destinationIp);
  const w = current && current.uid === workload.uid ? current : workload;
  return authorize(facts, state.policiesFor(w));
}

function decide(state: ZtunnelState, workload: WorkloadView, facts: ConnectionFacts): Admission {
  const decision = authorize(facts, state.policiesFor(workload));
  if (!decision.allowed) {
    const why = decision.policy ? `${decision.reason} ${decision.policy}` : decision.reason;
    return { allowed: false, workload, facts, error: new MeshError("permission_denied", `connection rejected by policy: ${why}`, { detail: { policy: decision.policy } }) };
  }
  return { allowed: true, workload, facts, decision };
}

export function admitHbone(state: ZtunnelState, arrival: HboneArrival): Admission {
  const workload = state.workloadAt(arrival.target.address);
  if (!workload || !state.isLocal(workload)) {
    return { allowed: false, error: new MeshError("invalid_argument", `no workload at ${arrival.target.address} on node ${state.node}`) };
  }
  if (arrival.arrivedAt !== undefined && !workload.addresses.includes(arrival.arrivedAt)) {
    return { allowed: false, workload, error: new MeshError("invalid_argument", `authority ${arrival.target.address} is not the workload the connection was made to (${arrival.arrivedAt})`) };
  }
  let principal: string;
  let namespace: string;
  try {
    const id = parseSpiffeId(arrival.peerIdentity);
    principal = arrival.peerIdentity.slice("spiffe://".length);
    namespace = id.namespace;
  } catch (err) {
    return { allowed: false, workload, error: MeshError.from(err, "permission_denied") };
  }
  return decide(state, workload, { principal, namespace, sourceIp: arrival.source.address, destinationIp: arrival.target.address, destinationPort: arrival.target.port });
}

/** The PeerAuthentication mode for a port of a workload. */
export function mtlsModeFor(workload: WorkloadView, port: number): MtlsMode {
  return workload.portMtlsModes[port] ?? workload.mtlsMode;
}

export function admitPlaintext(state: ZtunnelState, source: Endpoint, target: Endpoint): Admission {
  const workload = state.workloadAt(target.address);
  if (!workload || !state.isLocal(workload)) {
    return { allowed: false, error: new MeshError("invalid_argument", `no workload at ${target.address} on node ${state.node}`) };
  }
  const facts: ConnectionFacts = { sourceIp: source.address, destinationIp: target.address, destinationPort: target.port };
  if (mtlsModeFor(workload, target.port) === "strict") {
    return { allowed: false, workload, facts, error: new MeshError("permission_denied", "plaintext connection refused: PeerAuthentication is STRICT") };
  }
  return decide(state, workload, facts);
}

/** What an inbound connection's admission decided on, kept with the open connection to re-check. */
export interface AdmittedConnection {
  readonly workload: WorkloadView;
  readonly facts: ConnectionFacts;
}
