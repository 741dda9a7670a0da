/** The bookinfo fixture (src/state/bookinfo.test-support.ts) as one node's ztunnel sees it. */
import { bookinfoView } from "../state/bookinfo.test-support.ts";
import type { AuthorizationView, ServiceView, WorkloadView } from "../state/view.ts";
import { ZtunnelState } from "./state.ts";

export function bookinfoState(node: string, options: { policies?: AuthorizationView[]; workloads?: WorkloadView[]; services?: ServiceView[] } = {}): ZtunnelState {
  return ZtunnelState.build({
    node,
    workloads: options.workloads ?? bookinfoView.workloads,
    services: options.services ?? bookinfoView.services,
    authorizations: options.policies ?? bookinfoView.authorizations,
  });
}
