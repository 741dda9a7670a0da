/** The labels every Istio standard metric carries about who talked to whom (Istio's names, in its order). */
export const ISTIO_PEER_LABELS = [
  "reporter",
  "source_workload",
  "source_workload_namespace",
  "source_principal",
  "destination_workload",
  "destination_workload_namespace",
  "destination_principal",
  "destination_service",
] as const;
