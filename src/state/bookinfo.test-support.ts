/**
 * A small mesh as the proxies see it, for table tests: the seed article's bookinfo (sleep and
 * notsleep on node-1, productpage on node-2 behind a VIP), a workload outside the mesh, and a
 * service behind a waypoint with two replicas.
 */
import type { AuthorizationView, ServiceView, WorkloadView } from "./view.ts";

export function workload(name: string, address: string, node: string, extra: Partial<WorkloadView> = {}): WorkloadView {
  return {
    uid: `bookinfo/${name}`,
    name,
    namespace: "bookinfo",
    addresses: [address],
    node,
    serviceAccount: name,
    trustDomain: "cluster.local",
    labels: { app: name },
    services: {},
    authorizationPolicies: [],
    mtlsMode: "permissive",
    portMtlsModes: {},
    captured: true,
    network: "",
    ...extra,
  };
}

export const PRODUCTPAGE_KEY = "bookinfo/productpage.bookinfo.svc.cluster.local";
export const REVIEWS_KEY = "bookinfo/reviews.bookinfo.svc.cluster.local";
export const WAYPOINT_KEY = "bookinfo/waypoint.bookinfo.svc.cluster.local";

export const sleep = workload("sleep", "10.0.1.10", "node-1");
export const notsleep = workload("notsleep", "10.0.1.11", "node-1");
export const productpage = workload("productpage", "10.0.2.10", "node-2", {
  services: { [PRODUCTPAGE_KEY]: [{ servicePort: 9080, targetPort: 8080 }] },
  authorizationPolicies: ["bookinfo/productpage-viewer"],
});
export const productpageLocal = workload("productpage-2", "10.0.1.20", "node-1", {
  services: { [PRODUCTPAGE_KEY]: [{ servicePort: 9080, targetPort: 0 }] },
});
export const outside = workload("legacy", "10.0.3.5", "node-3", { captured: false });
export const reviews = workload("reviews", "10.0.2.30", "node-2", { services: { [REVIEWS_KEY]: [{ servicePort: 9080, targetPort: 0 }] } });
export const waypointA = workload("waypoint-a", "10.0.2.40", "node-2", { serviceAccount: "waypoint", services: { [WAYPOINT_KEY]: [{ servicePort: 15008, targetPort: 15008 }] } });
export const waypointB = workload("waypoint-b", "10.0.1.40", "node-1", { serviceAccount: "waypoint", services: { [WAYPOINT_KEY]: [{ servicePort: 15008, targetPort: 15008 }] } });

export const productpageService: ServiceView = { name: "productpage", namespace: "bookinfo", hostname: "productpage.bookinfo.svc.cluster.local", vips: ["10.96.0.20"], ports: [{ servicePort: 9080, targetPort: 8080 }] };
export const reviewsService: ServiceView = {
  name: "reviews",
  namespace: "bookinfo",
  hostname: "reviews.bookinfo.svc.cluster.local",
  vips: ["10.96.0.30"],
  ports: [{ servicePort: 9080, targetPort: 0 }],
  waypoint: { namespace: "bookinfo", name: "waypoint", hbonePort: 15008 },
};
export const waypointService: ServiceView = { name: "waypoint", namespace: "bookinfo", hostname: "waypoint.bookinfo.svc.cluster.local", vips: [], ports: [{ servicePort: 15008, targetPort: 15008 }] };

export const allowSleepOnly: AuthorizationView = {
  name: "productpage-viewer",
  namespace: "bookinfo",
  scope: "workload",
  action: "allow",
  rules: [{ from: [{ principals: ["cluster.local/ns/bookinfo/sa/sleep"], notPrincipals: [], namespaces: [], notNamespaces: [], ipBlocks: [], notIpBlocks: [] }], to: [], when: [] }],
};

export const bookinfoView = {
  workloads: [sleep, notsleep, productpage, outside, reviews, waypointA, waypointB],
  services: [productpageService, reviewsService, waypointService],
  authorizations: [allowSleepOnly],
} as const;
