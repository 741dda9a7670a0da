/**
 * The ztunnel's DNS proxy (default port 15053): UDP and TCP (RFC 7766 two-octet length framing)
 * on one port. Mesh names are answered from `lookup` (see resolve.ts); the rest is forwarded
 * verbatim to the upstream servers, in order.
 *
 * Invariants:
 * - Nothing a client or an upstream sends can crash it: malformed queries are answered FORMERR or
 *   NOTIMP when they carry a header, dropped otherwise, with a debug log; a throwing `lookup`
 *   becomes SERVFAIL.
 * - Every resource is bounded: forwards in flight (beyond: SERVFAIL at once), TCP connections
 *   (beyond: closed at once), queries pipelined per TCP connection (beyond: reading pauses), idle
 *   TCP connections (closed after a timeout), and each upstream exchange (a timeout, then the next
 *   upstream, then SERVFAIL).
 * - A forward uses a fresh UDP socket (a fresh source port), connected to the upstream, and
 *   accepts only a reply from the upstream's address and port with the query's id and question;
 *   anything else is ignored until the timeout. A refused port moves on to the next upstream at once. A truncated upstream reply to a TCP client is retried over TCP.
 * - Only node:dgram and node:net: the module runs on every runtime adapter.
 * - close() stops both listeners, closes TCP connections and abandons forwards in flight; it is
 *   idempotent, and an aborted `signal` calls it.
 */
import dgram from "node:dgram";
import net from "node:net";
import { MeshError } from "../../errors/mesh-error.ts";
import { canonicalIp, parseIp } from "../../net/ip.ts";
import type { Logger } from "../../telemetry/log.ts";
import { formatHostPort, type HostPort } from "../../util/host-port.ts";
import {
  buildHeaderReply,
  buildReply,
  HEADER_SIZE,
  type DnsQuery,
  type DnsQuestion,
  isTruncated,
  MAX_MESSAGE_OCTETS,
  parseHead,
  parseQuery,
  RCODE,
  replyRcodeOf,
  sameQuestion,
  udpLimitFor,
} from "./message.ts";
import type { DnsDecision } from "./resolve.ts";

export const DEFAULT_DNS_PORT = 15053;

export interface DnsClient {
  readonly address: string;
  readonly port: number;
  readonly transport: "udp" | "tcp";
}

/** Decide for one question; typically `(q, c) => table.lookup(q.name, q.type, namespaceOf(c.address), q.class)`. */
export type DnsLookup = (question: DnsQuestion, client: DnsClient) => DnsDecision;

export interface DnsProxyOptions {
  readonly host: string;
  /** 0: any free port (UDP and TCP get the same one). */
  readonly port: number;
  readonly lookup: DnsLookup;
  /** IP addresses (not names), tried in order. None: every forwarded query gets SERVFAIL. */
  readonly upstreams: readonly HostPort[];
  readonly logger: Logger;
  /** TTL of mesh answers, seconds. Default 30. */
  readonly ttlSeconds?: number;
  /** Per upstream and transport. Default 2000. */
  readonly upstreamTimeoutMs?: number;
  /** Default 512. */
  readonly maxInFlight?: number;
  /** Default 256. */
  readonly maxTcpConnections?: number;
  /** Default 10000. */
  readonly tcpIdleTimeoutMs?: number;
  /** Queries answered concurrently on one TCP connection. Default 16. */
  readonly maxTcpPipeline?: number;
  readonly signal?: AbortSignal;
}

export interface DnsProxyStats {
  queries: number;
  /** Answered from the mesh (including empty answers and NXDOMAIN). */
  local: number;
  forwarded: number;
  servfail: number;
  malformed: number;
  tcpRejected: number;
}

export interface DnsProxy {
  /** What was bound: the port is the real one when 0 was asked for. */
  readonly address: HostPort;
  stats(): Readonly<DnsProxyStats>;
  close(): Promise<void>;
}

/** Reply bytes, nothing (drop), or either later. */
type Outcome = Uint8Array | null | Promise<Uint8Array | null>;

const BIND_ATTEMPTS = 10;

export async function startDnsProxy(options: DnsProxyOptions): Promise<DnsProxy> {
  for (const u of options.upstreams) {
    if (!parseIp(stripZone(u.host)) || !Number.isInteger(u.port) || u.port < 1 || u.port > 65535) {
      throw new MeshError("invalid_argument", `dns: upstream ${formatHostPort(u)} is not an IP address and port`, { detail: { path: "upstreams" } });
    }
  }
  const family = options.host.includes(":") ? "udp6" : "udp4";
  let lastError: unknown;
  for (let attempt = 0; attempt < (options.port === 0 ? BIND_ATTEMPTS : 1); attempt++) {
    const udp = dgram.createSocket({ type: family });
    try {
      const port = await bindUdp(udp, options.host, options.port);
      const tcp = net.createServer({ allowHalfOpen: true });
      await listenTcp(tcp, options.host, port);
      return new DnsProxyServer(options, udp, tcp, port).start();
    } catch (err) {
      lastError = err;
      try {
        udp.close();
      } catch {
        // never bound
      }
      // With port 0 the UDP port may be taken for TCP: try another.
      if (!(options.port === 0 && (err as NodeJS.ErrnoException).code === "EADDRINUSE")) break;
    }
  }
  throw MeshError.from(lastError, "unavailable");
}

function bindUdp(udp: dgram.Socket, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    udp.once("error", reject);
    udp.bind({ address: host, port, exclusive: true }, () => {
      udp.off("error", reject);
      resolve(udp.address().port);
    });
  });
}

function listenTcp(server: net.Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port, exclusive: true }, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

class DnsProxyServer implements DnsProxy {
  readonly address: HostPort;
  private readonly log: Logger;
  private readonly upstreams: readonly { readonly host: string; readonly port: number; readonly canonical: string }[];
  private readonly ttl: number;
  private readonly timeoutMs: number;
  private readonly maxInFlight: number;
  private readonly maxTcp: number;
  private readonly idleMs: number;
  private readonly maxPipeline: number;
  private readonly counters: DnsProxyStats = { queries: 0, local: 0, forwarded: 0, servfail: 0, malformed: 0, tcpRejected: 0 };
  private inFlight = 0;
  private readonly connections = new Set<net.Socket>();
  /** Aborted by close(): abandons the upstream exchanges in flight. */
  private readonly closing = new AbortController();
  private closed: Promise<void> | null = null;

  constructor(
    private readonly options: DnsProxyOptions,
    private readonly udp: dgram.Socket,
    private readonly tcp: net.Server,
    port: number,
  ) {
    this.address = { host: options.host, port };
    this.log = options.logger;
    this.ttl = options.ttlSeconds ?? 30;
    this.timeoutMs = options.upstreamTimeoutMs ?? 2000;
    this.maxInFlight = options.maxInFlight ?? 512;
    this.maxTcp = options.maxTcpConnections ?? 256;
    this.idleMs = options.tcpIdleTimeoutMs ?? 10_000;
    this.maxPipeline = options.maxTcpPipeline ?? 16;
    const self = canonicalIp(options.host);
    this.upstreams = options.upstreams
      .map((u) => ({ host: u.host, port: u.port, canonical: canonicalIp(stripZone(u.host)) ?? u.host }))
      .filter((u) => {
        // Forwarding to ourselves would loop until every query times out.
        const loops = u.port === port && (u.canonical === self || self === "0.0.0.0" || self === "::");
        if (loops) this.log.warn("upstream is this proxy itself, ignored", { upstream: formatHostPort(u) });
        return !loops;
      });
  }

  start(): this {
    this.udp.on("message", (msg, rinfo) => this.onDatagram(msg, rinfo));
    this.udp.on("error", (err) => this.log.warn("udp socket error", { error: err }));
    this.tcp.on("connection", (socket) => this.onConnection(socket));
    this.tcp.on("error", (err) => this.log.warn("tcp listener error", { error: err }));
    const signal = this.options.signal;
    if (signal) {
      if (signal.aborted) void this.close();
      else signal.addEventListener("abort", () => void this.close(), { once: true });
    }
    this.log.info("dns proxy listening", { address: formatHostPort(this.address), upstreams: this.upstreams.map(formatHostPort).join(",") });
    return this;
  }

  stats(): Readonly<DnsProxyStats> {
    return { ...this.counters };
  }

  close(): Promise<void> {
    this.closed ??= new Promise<void>((resolve) => {
      this.closing.abort();
      for (const socket of this.connections) socket.destroy();
      this.connections.clear();
      let pending = 2;
      const done = () => {
        if (--pending === 0) resolve();
      };
      this.tcp.close(() => done());
      this.udp.close(() => done());
    });
    return this.closed;
  }

  // --- UDP ------------------------------------------------------------------------------------

  private onDatagram(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const outcome = this.handleSafely(msg, { address: rinfo.address, port: rinfo.port, transport: "udp" });
    if (outcome instanceof Promise) void outcome.then((reply) => this.sendUdp(reply, rinfo));
    else this.sendUdp(outcome, rinfo);
  }

  private sendUdp(reply: Uint8Array | null, rinfo: dgram.RemoteInfo): void {
    if (!reply || this.closed) return;
    this.udp.send(reply, rinfo.port, rinfo.address, (err) => {
      if (err) this.log.debug("udp reply not sent", { client: `${rinfo.address}:${rinfo.port}`, error: err });
    });
  }

  // --- TCP ------------------------------------------------------------------------------------

  private onConnection(socket: net.Socket): void {
    if (this.closed || this.connections.size >= this.maxTcp) {
      this.counters.tcpRejected++;
      this.log.debug("tcp connection refused: too many connections", { client: `${socket.remoteAddress}:${socket.remotePort}` });
      socket.destroy();
      return;
    }
    this.connections.add(socket);
    const client: DnsClient = { address: socket.remoteAddress ?? "", port: socket.remotePort ?? 0, transport: "tcp" };
    let buffered: Buffer | null = null;
    let pending = 0;
    let ended = false;
    let draining = false;
    socket.setNoDelay(true);
    socket.setTimeout(this.idleMs, () => {
      this.log.debug("tcp connection idle, closed", { client: `${client.address}:${client.port}` });
      socket.destroy();
    });
    socket.on("error", (err) => this.log.debug("tcp connection error", { client: `${client.address}:${client.port}`, error: err }));
    socket.on("close", () => this.connections.delete(socket));
    socket.on("end", () => {
      ended = true;
      if (pending === 0) socket.end();
    });

    const write = (reply: Uint8Array | null) => {
      pending--;
      if (reply && !socket.destroyed && socket.writable) {
        const frame = Buffer.allocUnsafe(2 + reply.length);
        frame.writeUInt16BE(reply.length, 0);
        frame.set(reply, 2);
        socket.write(frame);
      }
      // A synchronous reply comes from inside drain's loop, which goes on by itself.
      if (!socket.destroyed && !draining) drain();
    };

    /** Start the queries buffered whole, as far as the pipeline allows; pause reading while it is full. */
    const drain = () => {
      draining = true;
      try {
        drainLoop();
      } finally {
        draining = false;
      }
      if (ended && pending === 0 && !socket.destroyed) socket.end();
    };
    const drainLoop = () => {
      while (buffered && buffered.length >= 2 && pending < this.maxPipeline) {
        const length = buffered.readUInt16BE(0);
        if (buffered.length < 2 + length) break;
        const message = buffered.subarray(2, 2 + length);
        buffered = buffered.length === 2 + length ? null : buffered.subarray(2 + length);
        pending++;
        const outcome = this.handleSafely(message, client);
        if (outcome === null && message.length < HEADER_SIZE) {
          // Not even a header: the framing itself is in doubt, so the connection goes.
          socket.destroy();
          return;
        }
        if (outcome instanceof Promise) void outcome.then(write);
        else write(outcome);
        if (socket.destroyed) return;
      }
      if (pending >= this.maxPipeline) socket.pause();
      else if (socket.isPaused()) socket.resume();
    };

    socket.on("data", (chunk: Buffer) => {
      buffered = buffered ? Buffer.concat([buffered, chunk]) : chunk;
      drain();
    });
  }

  // --- Deciding -------------------------------------------------------------------------------

  /** handle(), with a bug in it logged and the query dropped rather than the process crashed. */
  private handleSafely(bytes: Uint8Array, client: DnsClient): Outcome {
    try {
      const outcome = this.handle(bytes, client);
      return outcome instanceof Promise ? outcome.catch((err: unknown) => this.internalError(err)) : outcome;
    } catch (err) {
      return this.internalError(err);
    }
  }

  private internalError(err: unknown): null {
    this.log.error("dns query failed", { error: MeshError.from(err) });
    return null;
  }

  /** One query from one client, over either transport. */
  private handle(bytes: Uint8Array, client: DnsClient): Outcome {
    this.counters.queries++;
    let query: DnsQuery;
    try {
      query = parseQuery(bytes);
    } catch (err) {
      this.counters.malformed++;
      const rcode = replyRcodeOf(err);
      this.log.debug("malformed query", { client: `${client.address}:${client.port}`, transport: client.transport, octets: bytes.length, error: err, reply: rcode ?? "none" });
      return rcode === null ? null : buildHeaderReply(bytes, rcode);
    }
    if (query.edns && query.edns.version > 0) return buildReply(query, { rcode: RCODE.BADVERS });

    let decision: DnsDecision;
    try {
      decision = this.options.lookup(query.question, client);
    } catch (err) {
      this.log.warn("dns lookup failed", { name: query.question.name, error: err });
      return this.servfail(query);
    }
    switch (decision.kind) {
      case "answer":
        this.counters.local++;
        return buildReply(query, {
          rcode: RCODE.NOERROR,
          addresses: decision.addresses,
          ttl: this.ttl,
          authoritative: true,
          maxSize: client.transport === "udp" ? udpLimitFor(query) : MAX_MESSAGE_OCTETS,
        });
      case "nxdomain":
        this.counters.local++;
        return buildReply(query, { rcode: RCODE.NXDOMAIN, authoritative: true });
      case "forward":
        return this.forward(bytes, query, client);
    }
  }

  private servfail(query: DnsQuery): Uint8Array {
    this.counters.servfail++;
    return buildReply(query, { rcode: RCODE.SERVFAIL });
  }

  // --- Forwarding -----------------------------------------------------------------------------

  private forward(bytes: Uint8Array, query: DnsQuery, client: DnsClient): Outcome {
    if (this.upstreams.length === 0) return this.servfail(query);
    if (this.inFlight >= this.maxInFlight) {
      this.log.debug("forward refused: too many in flight", { name: query.question.name, inFlight: this.inFlight });
      return this.servfail(query);
    }
    this.counters.forwarded++;
    this.inFlight++;
    return this.forwardToUpstreams(bytes, query, client).finally(() => this.inFlight--);
  }

  /** Upstreams in order; SERVFAIL, REFUSED and NOTIMP move on to the next but are kept as a last resort. */
  private async forwardToUpstreams(bytes: Uint8Array, query: DnsQuery, client: DnsClient): Promise<Uint8Array | null> {
    let fallback: Uint8Array | null = null;
    for (const upstream of this.upstreams) {
      if (this.closing.signal.aborted) return null;
      let reply = await this.exchangeUdp(upstream, bytes, query);
      if (reply && isTruncated(reply) && client.transport === "tcp") reply = (await this.exchangeTcp(upstream, bytes, query)) ?? reply;
      if (!reply) continue;
      const rcode = (reply[3] as number) & 0x0f;
      if (rcode !== RCODE.SERVFAIL && rcode !== RCODE.REFUSED && rcode !== RCODE.NOTIMP) return reply;
      fallback = reply;
    }
    if (fallback) return fallback;
    if (this.closing.signal.aborted) return null;
    this.log.debug("no upstream answered", { name: query.question.name });
    return this.servfail(query);
  }

  private isReplyTo(bytes: Uint8Array, query: DnsQuery): boolean {
    try {
      const { header, question } = parseHead(bytes);
      if (!header.qr || header.id !== query.header.id) return false;
      // Some servers leave the question out of an error reply.
      return question ? sameQuestion(question, query.question) : header.rcode !== RCODE.NOERROR;
    } catch {
      return false;
    }
  }

  private exchangeUdp(upstream: Upstream, bytes: Uint8Array, query: DnsQuery): Promise<Uint8Array | null> {
    return new Promise((resolve) => {
      const socket = dgram.createSocket(upstream.host.includes(":") ? "udp6" : "udp4");
      const finish = this.exchange(resolve, () => socket.close(), upstream, "udp", query);
      socket.on("error", (err) => finish(null, err));
      socket.on("message", (msg, rinfo) => {
        if (rinfo.port !== upstream.port || canonicalIp(stripZone(rinfo.address)) !== upstream.canonical) return;
        if (this.isReplyTo(msg, query)) finish(msg);
        else this.log.debug("stray upstream reply ignored", { upstream: formatHostPort(upstream), name: query.question.name });
      });
      // Connected: the kernel filters other sources, and a refused port fails at once (ICMP).
      socket.connect(upstream.port, upstream.host, () => {
        socket.send(bytes, (err) => {
          if (err) finish(null, err);
        });
      });
    });
  }

  private exchangeTcp(upstream: Upstream, bytes: Uint8Array, query: DnsQuery): Promise<Uint8Array | null> {
    return new Promise((resolve) => {
      const socket = net.connect({ host: upstream.host, port: upstream.port });
      const finish = this.exchange(resolve, () => socket.destroy(), upstream, "tcp", query);
      let buffered = Buffer.alloc(0);
      socket.on("error", (err) => finish(null, err));
      socket.on("close", () => finish(null, new Error("connection closed before a reply")));
      socket.on("data", (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        if (buffered.length < 2) return;
        const length = buffered.readUInt16BE(0);
        if (buffered.length < 2 + length) return;
        const reply = buffered.subarray(2, 2 + length);
        finish(this.isReplyTo(reply, query) ? reply : null, new Error("reply does not match the query"));
      });
      const frame = Buffer.allocUnsafe(2 + bytes.length);
      frame.writeUInt16BE(bytes.length, 0);
      frame.set(bytes, 2);
      socket.write(frame);
    });
  }

  /** The once-only end of an upstream exchange: timeout, abort on close, cleanup, a debug line on failure. */
  private exchange(
    resolve: (reply: Uint8Array | null) => void,
    cleanup: () => void,
    upstream: Upstream,
    transport: "udp" | "tcp",
    query: DnsQuery,
  ): (reply: Uint8Array | null, why?: unknown) => void {
    const signal = this.closing.signal;
    let done = false;
    const finish = (reply: Uint8Array | null, why?: unknown) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      try {
        cleanup();
      } catch {
        // already closed
      }
      if (!reply && !signal.aborted) {
        this.log.debug("upstream exchange failed", { upstream: formatHostPort(upstream), transport, name: query.question.name, error: why });
      }
      resolve(reply);
    };
    const onAbort = () => finish(null, "proxy closing");
    const timer = setTimeout(() => finish(null, `no reply within ${this.timeoutMs} ms`), this.timeoutMs);
    signal.addEventListener("abort", onAbort, { once: true });
    return finish;
  }
}

interface Upstream {
  readonly host: string;
  readonly port: number;
  readonly canonical: string;
}

function stripZone(host: string): string {
  const percent = host.indexOf("%");
  return percent < 0 ? host : host.slice(0, percent);
}

/** glibc reads at most this many nameserver lines (MAXNS). */
const MAX_NAMESERVERS = 3;

/**
 * The upstreams a resolv.conf names: its `nameserver` lines, port 53, in order, at most three (as
 * glibc), duplicates and non-addresses skipped. Pure: the caller reads the file.
 */
export function upstreamsFromResolvConf(text: string): HostPort[] {
  const out: HostPort[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/[#;].*$/, "").trim();
    const [keyword, address] = line.split(/\s+/);
    if (keyword !== "nameserver" || !address || !parseIp(stripZone(address))) continue;
    if (out.some((u) => u.host === address)) continue;
    out.push({ host: address, port: 53 });
    if (out.length === MAX_NAMESERVERS) break;
  }
  return out;
}
