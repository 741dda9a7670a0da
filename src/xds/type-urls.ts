/** The xDS type URLs mesh serves; resource names are "<namespace>/<name>" (services: "<namespace>/<hostname>"). */
export const TYPE_URL_PREFIX = "type.googleapis.com/";
export const WORKLOAD_TYPE = "type.googleapis.com/mesh.xds.v1.Workload";
export const SERVICE_TYPE = "type.googleapis.com/mesh.xds.v1.Service";
export const AUTHORIZATION_TYPE = "type.googleapis.com/mesh.xds.v1.Authorization";
export const TRUST_BUNDLE_TYPE = "type.googleapis.com/mesh.xds.v1.TrustBundle";

/** What a ztunnel subscribes to. */
export const ZTUNNEL_TYPES = [WORKLOAD_TYPE, SERVICE_TYPE, AUTHORIZATION_TYPE, TRUST_BUNDLE_TYPE] as const;
export type ZtunnelTypeUrl = (typeof ZTUNNEL_TYPES)[number];
export const WAYPOINT_CONFIG_TYPE = "type.googleapis.com/mesh.xds.v1.WaypointConfig";

/** What a waypoint subscribes to: its own config plus the workloads and services it routes to. */
export const WAYPOINT_TYPES = [WAYPOINT_CONFIG_TYPE, WORKLOAD_TYPE, SERVICE_TYPE, TRUST_BUNDLE_TYPE] as const;
