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
  /**
   * Streams a peer may reset early (before the server answered them and within `earlyResetMs` of
   * opening them), per connection and `abuseWindowMs`; one more closes the connection (HTTP/2
   * rapid reset, CVE-2023-44487). A stream held open longer already counted against
   * `maxStreamsPerConnection`, so later resets (e.g. a client's connect timeout) are not counted.
   */
  readonly maxEarlyResets: number;
  readonly earlyResetMs: number;
  /** SETTINGS and PING frames a peer may send per connection and `abuseWindowMs`; one more closes it. */
  readonly maxControlFrames: number;
  /** The window the two counters above are kept over. */
  readonly abuseWindowMs: number;
}

export const DEFAULT_HBONE_LIMITS: HboneLimits = {
  handshakeTimeoutMs: 10_000,
  maxStreamsPerConnection: 100,
  idleTimeoutMs: 60_000,
  maxConnections: 16_384,
  maxHeaderListSize: 16 * 1024,
  streamWindow: 4 * 1024 * 1024,
  maxEarlyResets: 100,
  earlyResetMs: 1000,
  maxControlFrames: 1000,
  abuseWindowMs: 10_000,
};
