/**
 * The DNS proxy on 127.0.0.1, port 0: answered by dig (when installed) and by message.ts as a
 * client. Forwarding goes to an upstream the test runs itself on 127.0.0.1 — never to the
 * machine's resolvers.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import dgram from "node:dgram";
import net from "node:net";
import { eventually } from "../../../test/support/eventually.ts";
import { run } from "../../../test/support/command.ts";
import { skipReason } from "../../../test/support/requirements.ts";
import { MeshError } from "../../errors/mesh-error.ts";
import { formatIp } from "../../net/ip.ts";
import { createLogControl } from "../../telemetry/log.ts";
import type { HostPort } from "../../util/host-port.ts";
import type { ServiceView } from "../../state/view.ts";
import { buildQuery, buildReply, type DnsMessage, parseMessage, parseQuery, RCODE, RR_TYPE } from "./message.ts";
import { DnsTable } from "./resolve.ts";
import { type DnsLookup, type DnsProxy, type DnsProxyOptions, startDnsProxy, upstreamsFromResolvConf } from "./server.ts";

const logger = createLogControl({ format: "text", spec: "off" }).logger("dns");
const LOOPBACK = "127.0.0.1";

const svc = (name: string, namespace: string, vips: string[]): ServiceView => ({
  name,
  namespace,
  hostname: `${name}.${namespace}.svc.cluster.local`,
  vips,
  ports: [{ servicePort: 9080, targetPort: 0 }],
});
const table = new DnsTable([svc("productpage", "bookinfo", ["10.96.0.10", "fd00::10"]), svc("reviews", "bookinfo", ["10.96.0.11"])]);
/** Every client of these tests is on loopback and "in" namespace bookinfo. */
const lookup: DnsLookup = (q, client) => table.lookup(q.name, q.type, client.address === LOOPBACK ? "bookinfo" : undefined, q.class);

// --- A test upstream, built with the codec --------------------------------------------------------

/** Names the upstream knows: www.example.org → 192.0.2.1; big.example → 60 addresses (TC over UDP);
 * slow.example → never answers; stray.example → a wrong-id reply first; fail.example → SERVFAIL. */
class TestUpstream {
  readonly seen: string[] = [];
  private udp = dgram.createSocket("udp4");
  private tcp = net.createServer();
  port = 0;

  /** UDP takes a free port; TCP on the same number may be taken by someone else: then try another. */
  async #bindBoth(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      await new Promise<void>((r) => this.udp.bind(0, LOOPBACK, () => r()));
      this.port = this.udp.address().port;
      try {
        await new Promise<void>((r, reject) => {
          this.tcp.once("error", reject);
          this.tcp.listen(this.port, LOOPBACK, () => {
            this.tcp.off("error", reject);
            r();
          });
        });
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EADDRINUSE" || attempt >= 10) throw err;
        this.udp.close();
        this.udp = dgram.createSocket("udp4");
        this.tcp = net.createServer();
      }
    }
  }

  constructor(private readonly answerFor = (name: string): { rcode: number; addresses: Uint8Array[] } | null => defaultAnswers(name)) {}

  async start(): Promise<this> {
    await this.#bindBoth();
    this.udp.on("message", (msg, rinfo) => {
      for (const reply of this.answer(msg, "udp")) this.udp.send(reply, rinfo.port, rinfo.address);
    });
    this.tcp.on("connection", (socket) => {
      socket.on("error", () => {});
      let buf = Buffer.alloc(0);
      socket.on("data", (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
          buf = buf.subarray(2 + msg.length);
          for (const reply of this.answer(msg, "tcp")) socket.write(frame(reply));
        }
      });
    });
    return this;
  }

  get address(): HostPort {
    return { host: LOOPBACK, port: this.port };
  }

  private answer(msg: Uint8Array, transport: "udp" | "tcp"): Uint8Array[] {
    const q = parseQuery(msg);
    const name = q.question.name.toLowerCase();
    this.seen.push(`${transport} ${name}`);
    const a = this.answerFor(name);
    if (!a) return [];
    const maxSize = transport === "udp" ? 512 : 65535;
    const reply = buildReply(q, { rcode: a.rcode, addresses: a.addresses, ttl: 300, maxSize });
    if (name === "stray.example") {
      const stray = reply.slice();
      stray[1] = (stray[1] as number) ^ 0xff; // another id
      return [stray, reply];
    }
    return [reply];
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => this.udp.close(() => r()));
    await new Promise<void>((r) => this.tcp.close(() => r()));
  }
}

function defaultAnswers(name: string): { rcode: number; addresses: Uint8Array[] } | null {
  switch (name) {
    case "www.example.org":
    case "stray.example":
      return { rcode: RCODE.NOERROR, addresses: [new Uint8Array([192, 0, 2, 1])] };
    case "big.example":
      return { rcode: RCODE.NOERROR, addresses: Array.from({ length: 60 }, (_, i) => new Uint8Array([198, 51, 100, i])) };
    case "slow.example":
      return null;
    case "fail.example":
      return { rcode: RCODE.SERVFAIL, addresses: [] };
    default:
      return { rcode: RCODE.NXDOMAIN, addresses: [] };
  }
}

// --- Clients --------------------------------------------------------------------------------------

function frame(bytes: Uint8Array): Buffer {
  const out = Buffer.alloc(2 + bytes.length);
  out.writeUInt16BE(bytes.length, 0);
  out.set(bytes, 2);
  return out;
}

/** One UDP exchange; rejects after timeoutMs. */
function udpExchange(port: number, query: Uint8Array, timeoutMs = 3000): Promise<DnsMessage> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket("udp4");
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error("no UDP reply"));
    }, timeoutMs);
    socket.on("message", (msg) => {
      clearTimeout(timer);
      socket.close();
      resolve(parseMessage(msg));
    });
    socket.send(query, port, LOOPBACK);
  });
}

/** Send raw bytes over UDP, expecting nothing back (checked through the proxy's stats). */
function udpSend(port: number, bytes: Uint8Array): Promise<void> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket("udp4");
    socket.send(bytes, port, LOOPBACK, () => {
      socket.close();
      resolve();
    });
  });
}

/** A TCP connection that collects framed replies. */
class TcpClient {
  readonly replies: DnsMessage[] = [];
  closed = false;
  private buf = Buffer.alloc(0);
  private socket: net.Socket;

  constructor(port: number) {
    this.socket = net.connect({ host: LOOPBACK, port });
    this.socket.on("error", () => {});
    this.socket.on("close", () => (this.closed = true));
    this.socket.on("data", (chunk: Buffer) => {
      this.buf = Buffer.concat([this.buf, chunk]);
      while (this.buf.length >= 2 && this.buf.length >= 2 + this.buf.readUInt16BE(0)) {
        this.replies.push(parseMessage(this.buf.subarray(2, 2 + this.buf.readUInt16BE(0))));
        this.buf = this.buf.subarray(2 + this.buf.readUInt16BE(0));
      }
    });
  }

  connected(): Promise<void> {
    return new Promise((r) => (this.socket.connecting ? this.socket.once("connect", () => r()) : r()));
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  async exchange(query: Uint8Array): Promise<DnsMessage> {
    const before = this.replies.length;
    this.write(frame(query));
    return eventually(() => {
      const r = this.replies[before];
      if (!r) throw new Error("no TCP reply yet");
      return r;
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

const idOf = (bytes: Uint8Array) => ((bytes[0] as number) << 8) | (bytes[1] as number);
const addresses = (m: DnsMessage) => m.answers.map((a) => formatIp(a.data));
let nextId = 1;
const query = (name: string, type: number = RR_TYPE.A, ednsUdpSize?: number) => buildQuery({ id: nextId++ & 0xffff, name, type, ...(ednsUdpSize ? { ednsUdpSize } : {}) });

async function withProxy(options: Partial<DnsProxyOptions>, body: (proxy: DnsProxy) => Promise<void>): Promise<void> {
  const proxy = await startDnsProxy({ host: LOOPBACK, port: 0, lookup, upstreams: [], logger, ...options });
  try {
    await body(proxy);
  } finally {
    await proxy.close();
  }
}

// --- Tests ----------------------------------------------------------------------------------------

let upstream: TestUpstream;
beforeAll(async () => {
  upstream = await new TestUpstream().start();
});
afterAll(async () => upstream.stop());

describe("mesh names are answered by the proxy", () => {
  test("UDP: A and AAAA with the TTL, authoritative, id and question echoed", async () => {
    await withProxy({ ttlSeconds: 42 }, async (proxy) => {
      expect(proxy.address.port).toBeGreaterThan(0);
      const q = query("ProductPage.bookinfo.svc.cluster.local");
      const a = await udpExchange(proxy.address.port, q);
      expect(a.header).toMatchObject({ id: idOf(q), qr: true, aa: true, ra: true, rd: true, rcode: RCODE.NOERROR });
      expect(a.questions[0]?.name).toBe("ProductPage.bookinfo.svc.cluster.local");
      expect(addresses(a)).toEqual(["10.96.0.10"]);
      expect(a.answers[0]?.ttl).toBe(42);
      expect(addresses(await udpExchange(proxy.address.port, query("productpage.bookinfo", RR_TYPE.AAAA)))).toEqual(["fd00::10"]);
    });
  });

  test("short name with the client's namespace; no address of the family: empty NOERROR", async () => {
    await withProxy({}, async (proxy) => {
      expect(addresses(await udpExchange(proxy.address.port, query("reviews")))).toEqual(["10.96.0.11"]);
      const empty = await udpExchange(proxy.address.port, query("reviews.bookinfo.svc", RR_TYPE.AAAA));
      expect(empty.rcode).toBe(RCODE.NOERROR);
      expect(empty.answers).toEqual([]);
      expect(proxy.stats()).toMatchObject({ queries: 2, local: 2, forwarded: 0 });
    });
  });

  test("TCP: pipelined queries in one write, and a query split across writes", async () => {
    await withProxy({}, async (proxy) => {
      const c = new TcpClient(proxy.address.port);
      await c.connected();
      c.write(Buffer.concat([frame(query("productpage.bookinfo")), frame(query("reviews.bookinfo"))]));
      await eventually(() => expect(c.replies.length).toBe(2));
      expect(c.replies.map(addresses).sort()).toEqual([["10.96.0.10"], ["10.96.0.11"]]);
      const split = frame(query("reviews"));
      c.write(split.subarray(0, 1));
      c.write(split.subarray(1, 7));
      c.write(split.subarray(7));
      await eventually(() => expect(c.replies.length).toBe(3));
      expect(addresses(c.replies[2] as DnsMessage)).toEqual(["10.96.0.11"]);
      c.close();
    });
  });

  test("EDNS: an OPT in the reply; version 1 gets BADVERS", async () => {
    await withProxy({}, async (proxy) => {
      const a = await udpExchange(proxy.address.port, query("reviews.bookinfo", RR_TYPE.A, 4096));
      expect(a.edns?.udpSize).toBe(1232);
      const v1 = query("reviews.bookinfo", RR_TYPE.A, 4096);
      v1[v1.length - 5] = 1; // OPT TTL: extended rcode, VERSION, flags
      expect((await udpExchange(proxy.address.port, v1)).rcode).toBe(RCODE.BADVERS);
    });
  });

  test("a lookup that throws gives SERVFAIL", async () => {
    const throwing: DnsLookup = () => {
      throw new Error("boom");
    };
    await withProxy({ lookup: throwing }, async (proxy) => {
      expect((await udpExchange(proxy.address.port, query("reviews"))).rcode).toBe(RCODE.SERVFAIL);
    });
  });
});

describe("dig", () => {
  const skip = skipReason("dns proxy answers dig", { commands: ["dig"] });
  const dig = async (port: number, ...args: string[]) => {
    const r = await run(["dig", `@${LOOPBACK}`, "-p", String(port), "+time=3", "+tries=1", ...args], { timeoutMs: 10_000 });
    expect(r.code).toBe(0);
    return r.stdout;
  };
  (skip === null ? test : test.skip)("dig over UDP and TCP, mesh and forwarded names", async () => {
    await withProxy({ upstreams: [upstream.address] }, async (proxy) => {
      const port = proxy.address.port;
      expect((await dig(port, "+short", "productpage.bookinfo.svc.cluster.local")).trim()).toBe("10.96.0.10");
      expect((await dig(port, "+short", "+tcp", "productpage.bookinfo.svc.cluster.local", "AAAA")).trim()).toBe("fd00::10");
      expect((await dig(port, "+short", "reviews")).trim()).toBe("10.96.0.11");
      expect((await dig(port, "+short", "www.example.org")).trim()).toBe("192.0.2.1");
      const full = await dig(port, "nothing.example.org");
      expect(full).toContain("status: NXDOMAIN");
      // dig's default query carries EDNS and a cookie; the reply must not make it complain (its
      // one warning is that .local is mDNS's, which cluster domains ignore).
      const mesh = await dig(port, "reviews.bookinfo.svc.cluster.local");
      expect(mesh).toContain("status: NOERROR");
      expect(mesh).toContain("flags: qr aa rd ra");
      expect(mesh).toContain("EDNS: version: 0, flags:; udp: 1232");
      expect(mesh.replace(/WARNING: \.local is reserved.*/, "")).not.toMatch(/WARNING|malformed|FORMERR/);
      // Many answers: truncated over UDP, dig retries over TCP by itself.
      expect((await dig(port, "+short", "big.example")).trim().split("\n").length).toBe(60);
    });
  });
});

describe("other names are forwarded", () => {
  test("relayed as the upstream answered, over UDP and TCP", async () => {
    await withProxy({ upstreams: [upstream.address] }, async (proxy) => {
      const a = await udpExchange(proxy.address.port, query("www.example.org"));
      expect(addresses(a)).toEqual(["192.0.2.1"]);
      expect(a.answers[0]?.ttl).toBe(300);
      expect((await udpExchange(proxy.address.port, query("missing.example.org"))).rcode).toBe(RCODE.NXDOMAIN);
      const c = new TcpClient(proxy.address.port);
      expect(addresses(await c.exchange(query("www.example.org")))).toEqual(["192.0.2.1"]);
      c.close();
      expect(proxy.stats().forwarded).toBe(3);
    });
  });

  test("no upstream: SERVFAIL", async () => {
    await withProxy({ upstreams: [] }, async (proxy) => {
      expect((await udpExchange(proxy.address.port, query("www.example.org"))).rcode).toBe(RCODE.SERVFAIL);
    });
  });

  test("an upstream that does not answer: SERVFAIL after the timeout", async () => {
    await withProxy({ upstreams: [upstream.address], upstreamTimeoutMs: 150 }, async (proxy) => {
      const started = Date.now();
      expect((await udpExchange(proxy.address.port, query("slow.example"))).rcode).toBe(RCODE.SERVFAIL);
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);
      expect(proxy.stats().servfail).toBe(1);
    });
  });

  test("the next upstream is tried after a silent one and after a SERVFAIL", async () => {
    const silent = dgram.createSocket("udp4"); // bound, never answers
    await new Promise<void>((r) => silent.bind(0, LOOPBACK, () => r()));
    const failing = await new TestUpstream(() => ({ rcode: RCODE.SERVFAIL, addresses: [] })).start();
    try {
      await withProxy({ upstreams: [{ host: LOOPBACK, port: silent.address().port }, failing.address, upstream.address], upstreamTimeoutMs: 150 }, async (proxy) => {
        expect(addresses(await udpExchange(proxy.address.port, query("www.example.org")))).toEqual(["192.0.2.1"]);
        expect(failing.seen).toEqual(["udp www.example.org"]);
      });
      // Every upstream fails: the last failure is relayed.
      await withProxy({ upstreams: [failing.address], upstreamTimeoutMs: 150 }, async (proxy) => {
        expect((await udpExchange(proxy.address.port, query("www.example.org"))).rcode).toBe(RCODE.SERVFAIL);
      });
    } finally {
      silent.close();
      await failing.stop();
    }
  });

  test("a refused upstream port fails over at once, not after the timeout", async () => {
    const closed = dgram.createSocket("udp4");
    await new Promise<void>((r) => closed.bind(0, LOOPBACK, () => r()));
    const port = closed.address().port;
    await new Promise<void>((r) => closed.close(() => r()));
    await withProxy({ upstreams: [{ host: LOOPBACK, port }, upstream.address], upstreamTimeoutMs: 5000 }, async (proxy) => {
      const started = Date.now();
      expect(addresses(await udpExchange(proxy.address.port, query("www.example.org")))).toEqual(["192.0.2.1"]);
      expect(Date.now() - started).toBeLessThan(2000);
    });
  });

  test("a reply with another id is ignored; the right one is relayed", async () => {
    await withProxy({ upstreams: [upstream.address] }, async (proxy) => {
      const q = query("stray.example");
      const a = await udpExchange(proxy.address.port, q);
      expect(a.header.id).toBe(idOf(q));
      expect(addresses(a)).toEqual(["192.0.2.1"]);
    });
  });

  test("truncated upstream reply: relayed as is over UDP, retried over TCP for a TCP client", async () => {
    await withProxy({ upstreams: [upstream.address] }, async (proxy) => {
      upstream.seen.length = 0;
      const overUdp = await udpExchange(proxy.address.port, query("big.example"));
      expect(overUdp.header.tc).toBe(true);
      const c = new TcpClient(proxy.address.port);
      const overTcp = await c.exchange(query("big.example"));
      c.close();
      expect(overTcp.header.tc).toBe(false);
      expect(overTcp.answers.length).toBe(60);
      expect(upstream.seen).toEqual(["udp big.example", "udp big.example", "tcp big.example"]);
    });
  });

  test("beyond maxInFlight: SERVFAIL at once", async () => {
    await withProxy({ upstreams: [upstream.address], maxInFlight: 1, upstreamTimeoutMs: 2000 }, async (proxy) => {
      const slow = udpExchange(proxy.address.port, query("slow.example"), 500).catch(() => null);
      await eventually(() => expect(proxy.stats().forwarded).toBe(1));
      const started = Date.now();
      expect((await udpExchange(proxy.address.port, query("www.example.org"))).rcode).toBe(RCODE.SERVFAIL);
      expect(Date.now() - started).toBeLessThan(1000);
      await proxy.close(); // abandons the slow forward
      expect(await slow).toBeNull();
    });
  });

  test("refuses upstreams that are not IP addresses", async () => {
    const err = await startDnsProxy({ host: LOOPBACK, port: 0, lookup, logger, upstreams: [{ host: "dns.example", port: 53 }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MeshError);
    expect((err as MeshError).code).toBe("invalid_argument");
  });
});

describe("garbage and limits", () => {
  test("garbage over UDP: dropped or FORMERR/NOTIMP, and the proxy keeps answering", async () => {
    await withProxy({}, async (proxy) => {
      const port = proxy.address.port;
      await udpSend(port, new Uint8Array(0));
      await udpSend(port, new Uint8Array([1, 2, 3]));
      await udpSend(port, new Uint8Array(600).fill(0xc0));
      const reply = parseQuery(query("reviews")); // a response, not a query: dropped
      await udpSend(port, buildReply(reply, { rcode: 0 }));
      await eventually(() => expect(proxy.stats().malformed).toBe(4));

      const noQuestion = query("reviews");
      noQuestion[5] = 0; // qdcount 0
      const formerr = await udpExchange(port, noQuestion);
      expect(formerr.header).toMatchObject({ id: idOf(noQuestion), qr: true, rcode: RCODE.FORMERR, qdcount: 0 });
      const status = query("reviews");
      status[2] = 2 << 3; // opcode STATUS
      expect((await udpExchange(port, status)).rcode).toBe(RCODE.NOTIMP);
      expect(addresses(await udpExchange(port, query("reviews")))).toEqual(["10.96.0.11"]);
    });
  });

  test("TCP: a frame too short for a header closes the connection; FORMERR keeps it", async () => {
    await withProxy({}, async (proxy) => {
      const c = new TcpClient(proxy.address.port);
      const bad = query("reviews");
      bad[5] = 2; // qdcount 2
      expect((await c.exchange(bad)).rcode).toBe(RCODE.FORMERR);
      expect(c.closed).toBe(false);
      c.write(frame(new Uint8Array([1, 2, 3])));
      await eventually(() => expect(c.closed).toBe(true));
    });
  });

  test("TCP: connections beyond the limit are closed; idle ones time out", async () => {
    await withProxy({ maxTcpConnections: 2, tcpIdleTimeoutMs: 300 }, async (proxy) => {
      const a = new TcpClient(proxy.address.port);
      const b = new TcpClient(proxy.address.port);
      await a.exchange(query("reviews"));
      await b.exchange(query("reviews"));
      const c = new TcpClient(proxy.address.port);
      await eventually(() => expect(c.closed).toBe(true));
      expect(proxy.stats().tcpRejected).toBe(1);
      await eventually(() => expect(a.closed && b.closed).toBe(true));
      // Room again once they are gone.
      const d = new TcpClient(proxy.address.port);
      expect(addresses(await d.exchange(query("reviews")))).toEqual(["10.96.0.11"]);
      d.close();
    });
  });

  test("TCP: many pipelined queries beyond the per-connection limit are all answered", async () => {
    await withProxy({ maxTcpPipeline: 2, upstreams: [upstream.address] }, async (proxy) => {
      const c = new TcpClient(proxy.address.port);
      await c.connected();
      const names = Array.from({ length: 20 }, (_, i) => (i % 2 ? "www.example.org" : "reviews"));
      c.write(Buffer.concat(names.map((n) => frame(query(n)))));
      await eventually(() => expect(c.replies.length).toBe(20));
      expect(c.replies.every((r) => r.rcode === RCODE.NOERROR && r.answers.length === 1)).toBe(true);
      c.close();
    });
  });

  test("fuzz (seeded): random datagrams and TCP streams never stop the proxy", async () => {
    let seed = 0x5eed;
    const rand = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed >>> 16;
    };
    const valid = [query("reviews"), query("www.example.org", RR_TYPE.A, 1232), query("slow.example")];
    const packet = () => {
      if (rand() % 2 === 0) return Uint8Array.from({ length: rand() % 200 }, () => rand() & 0xff);
      const p = (valid[rand() % valid.length] as Uint8Array).slice();
      for (let i = rand() % 4; i >= 0; i--) p[rand() % p.length] = rand() & 0xff;
      return p;
    };
    await withProxy({ upstreams: [upstream.address], upstreamTimeoutMs: 100, maxInFlight: 8 }, async (proxy) => {
      const port = proxy.address.port;
      // In batches, so the kernel's receive buffer never drops any.
      for (let sent = 0; sent < 300; ) {
        for (let i = 0; i < 20; i++, sent++) await udpSend(port, packet());
        await eventually(() => expect(proxy.stats().queries).toBe(sent));
      }
      // Junk between frames breaks the framing on purpose: whatever the proxy makes of it, it goes on.
      const c = new TcpClient(port);
      await c.connected();
      for (let i = 0; i < 50; i++) c.write(Buffer.concat([frame(packet()), Uint8Array.from({ length: rand() % 3 }, () => rand() & 0xff)]));
      await eventually(() => expect(proxy.stats().queries).toBeGreaterThan(300));
      c.close();
      expect(addresses(await udpExchange(port, query("reviews")))).toEqual(["10.96.0.11"]);
      const d = new TcpClient(port);
      expect(addresses(await d.exchange(query("reviews")))).toEqual(["10.96.0.11"]);
      d.close();
    });
  });

  test("close() is idempotent, and an aborted signal closes", async () => {
    const ac = new AbortController();
    const proxy = await startDnsProxy({ host: LOOPBACK, port: 0, lookup, upstreams: [], logger, signal: ac.signal });
    ac.abort();
    await proxy.close();
    await proxy.close();
    await expect(udpExchange(proxy.address.port, query("reviews"), 200)).rejects.toThrow("no UDP reply");
  });

  test("a port in use is reported", async () => {
    await withProxy({}, async (proxy) => {
      const err = await startDnsProxy({ host: LOOPBACK, port: proxy.address.port, lookup, upstreams: [], logger }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MeshError);
      expect((err as MeshError).code).toBe("unavailable");
    });
  });
});

describe("upstreamsFromResolvConf", () => {
  const cases: Array<[string, string, HostPort[]]> = [
    ["one nameserver", "nameserver 10.0.0.2\n", [{ host: "10.0.0.2", port: 53 }]],
    [
      "comments, options, search and blank lines",
      "# generated\n; old\nsearch bookinfo.svc.cluster.local svc.cluster.local\n\noptions ndots:5\nnameserver 10.0.0.2 # primary\n  nameserver\t10.0.0.3\n",
      [
        { host: "10.0.0.2", port: 53 },
        { host: "10.0.0.3", port: 53 },
      ],
    ],
    ["IPv6, with a zone", "nameserver ::1\nnameserver fe80::1%eth0\n", [{ host: "::1", port: 53 }, { host: "fe80::1%eth0", port: 53 }]],
    ["names and junk are skipped", "nameserver dns.example\nnameserver\nnameserver 300.1.1.1\nnameservers 1.1.1.1\n", []],
    ["duplicates once", "nameserver 10.0.0.2\nnameserver 10.0.0.2\n", [{ host: "10.0.0.2", port: 53 }]],
    ["at most three, as glibc", "nameserver 10.0.0.1\nnameserver 10.0.0.2\nnameserver 10.0.0.3\nnameserver 10.0.0.4\n", [1, 2, 3].map((i) => ({ host: `10.0.0.${i}`, port: 53 }))],
    ["CRLF line ends", "nameserver 10.0.0.2\r\n", [{ host: "10.0.0.2", port: 53 }]],
    ["empty", "", []],
  ];
  for (const [what, text, expected] of cases) {
    test(what, () => expect(upstreamsFromResolvConf(text)).toEqual(expected));
  }
});
