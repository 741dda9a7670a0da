/** Bounds on what one HBONE peer may make a proxy hold; defaults sized for a node's ztunnel. */
export interface HboneLimits {
  /** TLS handshake plus the first request must finish within this. */
  readonly handshakeTimeoutMs: number;
  /** Concurrent CONNECT streams per HTTP/2 connection (advertised in SETTINGS). */
  readonly maxStreamsPerConnection: number;
  /** A connection with no stream for this long is closed (client pool and server). */
  readonly idleTimeoutMs: number;
  /** Accepted HBONE connections held at once; more are refused at accept. */
  readonly maxConnections: number;
  /** Largest header block a peer may send. */
  readonly maxHeaderListSize: number;
  /** HTTP/2 stream flow-control window. */
  readonly streamWindow: number;
}

export const DEFAULT_HBONE_LIMITS: HboneLimits = {
  handshakeTimeoutMs: 10_000,
  maxStreamsPerConnection: 100,
  idleTimeoutMs: 60_000,
  maxConnections: 16_384,
  maxHeaderListSize: 16 * 1024,
  streamWindow: 4 * 1024 * 1024,
};
