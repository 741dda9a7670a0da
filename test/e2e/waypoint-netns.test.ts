/**
 * The waypoint end to end, as operators run it: `dist/mesh` processes in network namespaces built
 * by the test — a control plane, node-1 and node-2 with ztunnels in iptables mode, and waypoint
 * replicas as workloads of their own (each in its own namespace behind its node, like a pod: a
 * replica is never captured, so the node routes HBONE to it and its admin ports stay its own).
 * Real curl from sleep's namespace. Seed 002's deployment patterns:
 *
 *   node-1: sleep 10.0.1.10, wp-a1 10.0.1.20 (replica 1 of ns-a/waypoint)
 *   node-2: reviews 10.0.2.10 (ns-a), details 10.0.2.11 and ratings 10.0.2.12 (ns-b),
 *           hello 10.0.2.13 (ns-c), wp-a2 10.0.2.20 (replica 2 of ns-a/waypoint),
 *           wp-b 10.0.2.21 (ns-b/waypoint-b)
 *
 * A: ns-a uses its namespace waypoint; B: only ns-b's details uses waypoint-b, ratings stays L4;
 * C: ns-c uses ns-a's waypoint (use-waypoint-namespace, the Gateway admits All). Then bad input
 * at the waypoint and a killed replica. Root only; every namespace and process is removed at the
 * end, also on failure.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { meshBinary } from "../support/binary.ts";
import { run, runOk } from "../support/command.ts";
import { eventually } from "../support/eventually.ts";
import { skipReason } from "../support/requirements.ts";
import { buildTopology, type SpawnedProcess, type Topology, type TopologySpec } from "../support/topology.ts";

const skip = skipReason("waypoint in network namespaces", { root: true, commands: ["ip", "iptables", "curl"] });

const CP = "192.168.77.2";
const API = `http://${CP}:15014`;
const SLEEP_ID = "spiffe://cluster.local/ns/client/sa/sleep";
const WAYPOINT_A_ID = "spiffe://cluster.local/ns/ns-a/sa/waypoint";

const TOPOLOGY: TopologySpec = {
  cpLanIp: CP,
  nodes: [
    { name: "node-1", lanIp: "192.168.77.11", workloads: [{ name: "sleep", ip: "10.0.1.10" }, { name: "wp-a1", ip: "10.0.1.20" }] },
    {
      name: "node-2",
      lanIp: "192.168.77.12",
      workloads: [
        { name: "reviews", ip: "10.0.2.10" },
        { name: "details", ip: "10.0.2.11" },
        { name: "ratings", ip: "10.0.2.12" },
        { name: "hello", ip: "10.0.2.13" },
        { name: "wp-a2", ip: "10.0.2.20" },
        { name: "wp-b", ip: "10.0.2.21" },
      ],
    },
  ],
};

const ns = (name: string, labels: string) => `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${name}, labels: {istio.io/dataplane-mode: ambient${labels}}}\n---\n`;
const gateway = (namespace: string, name: string, from: string) =>
  `apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: ${name}, namespace: ${namespace}}\nspec: {gatewayClassName: istio-waypoint, listeners: [{name: mesh, port: 15008, protocol: HBONE, allowedRoutes: {namespaces: {from: ${from}}}}]}\n---\n`;
const service = (namespace: string, name: string, vip: string, labels = "") =>
  `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}, namespace: ${namespace}, labels: {${labels}}}\nspec: {selector: {app: ${name}}, clusterIP: ${vip}, ports: [{name: http, port: 9080}]}\n---\n`;
/** hostInterface: the node side of the workload's veth, which the topology names after the workload. */
const entry = (namespace: string, name: string, address: string, node: string, sa: string, labels: string, hostInterface = name) =>
  `apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: ${name}, namespace: ${namespace}}\nspec: {address: ${address}, node: ${node}, hostInterface: ${hostInterface}, serviceAccount: ${sa}, labels: {${labels}}}\n---\n`;
const replica = (namespace: string, name: string, address: string, node: string, gw: string, hostInterface: string) => entry(namespace, name, address, node, gw, `gateway.networking.k8s.io/gateway-name: ${gw}`, hostInterface);

const MESH = [
  ns("client", ""),
  ns("ns-a", ", istio.io/use-waypoint: waypoint"),
  ns("ns-b", ""),
  ns("ns-c", ", istio.io/use-waypoint: waypoint, istio.io/use-waypoint-namespace: ns-a"),
  gateway("ns-a", "waypoint", "All"),
  gateway("ns-b", "waypoint-b", "Same"),
  service("ns-a", "reviews", "10.96.0.30"),
  service("ns-b", "details", "10.96.0.40", "istio.io/use-waypoint: waypoint-b"),
  service("ns-b", "ratings", "10.96.0.41"),
  service("ns-c", "hello", "10.96.0.50"),
  entry("client", "sleep", "10.0.1.10", "node-1", "sleep", "app: sleep"),
  entry("ns-a", "reviews", "10.0.2.10", "node-2", "reviews", "app: reviews"),
  entry("ns-b", "details", "10.0.2.11", "node-2", "details", "app: details"),
  entry("ns-b", "ratings", "10.0.2.12", "node-2", "ratings", "app: ratings"),
  entry("ns-c", "hello", "10.0.2.13", "node-2", "hello", "app: hello"),
  replica("ns-a", "waypoint-1", "10.0.1.20", "node-1", "waypoint", "wp-a1"),
  replica("ns-a", "waypoint-2", "10.0.2.20", "node-2", "waypoint", "wp-a2"),
  replica("ns-b", "waypoint-b-1", "10.0.2.21", "node-2", "waypoint-b", "wp-b"),
].join("");

/** An HTTP server that answers with what it saw: its name, the proxy headers, the peer. */
const BACKEND = `const name = process.argv[1];
const server = require("node:http").createServer((req, res) => {
  const ms = Number(new URL(req.url, "http://x").searchParams.get("ms") ?? 0);
  setTimeout(() => res.end(JSON.stringify({ name, url: req.url, xff: req.headers["x-forwarded-for"] ?? null, peer: req.socket.remoteAddress })), ms);
});
let open = 0;
server.on("connection", (s) => {
  console.log("open connections: " + ++open);
  s.on("close", () => console.log("open connections: " + --open));
});
server.listen(9080, "0.0.0.0", () => console.log("listening"));`;
const backends: Record<string, SpawnedProcess> = {};

/** Raw bytes to TARGET (host:port), prints the response's status line (or what ended it). */
const RAW_CLIENT = `const [host, port] = process.env.TARGET.split(":");
const s = require("node:net").connect(Number(port), host);
let out = "";
const done = (why) => { process.stdout.write(out.split(/\\r?\\n/)[0] || why); process.exit(0); };
s.on("connect", () => s.write(Buffer.from(process.env.PAYLOAD, "base64")));
s.on("data", (d) => (out += d.toString("latin1")));
s.on("close", () => done("(closed without a response)"));
s.on("error", (e) => done("(" + e.message + ")"));
setTimeout(() => done("(no response in 5 s)"), 5000);`;

let t: Topology;
let dir: string;
let bin: string;
const ztunnels: Record<string, SpawnedProcess> = {};
const waypoints: Record<string, SpawnedProcess> = {};

const mesh = (args: readonly string[]) => runOk(t.host("cp").exec([bin, ...args, "--server", API, "--admin-token-file", join(dir, "cp", "admin-token")]), { timeoutMs: 15_000 });

/** curl from a host's namespace: exit code and body. */
async function curl(from: string, url: string, extra: readonly string[] = []): Promise<{ code: number | null; body: string }> {
  const r = await run(t.host(from).exec(["curl", "-sS", "--max-time", "5", ...extra, url]), { timeoutMs: 10_000 });
  return { code: r.code, body: r.stdout + r.stderr };
}

/** A request from sleep that must succeed; the backend's JSON answer. */
async function get(url: string): Promise<{ name: string; url: string; xff: string | null; peer: string }> {
  const r = await curl("sleep", url, ["--fail"]);
  if (r.code !== 0) throw new Error(`curl ${url} from sleep: exit ${r.code}: ${r.body}`);
  return JSON.parse(r.body);
}

const jsonLines = (text: string) => text.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
const requestsAt = (p: SpawnedProcess) => jsonLines(p.stderr()).filter((l) => l.msg === "request complete");
const ztunnelAccess = (node: string) => jsonLines((ztunnels[node] as SpawnedProcess).stderr()).filter((l) => l.msg === "connection complete");

function startWaypoint(where: string, gw: string, node: string): SpawnedProcess {
  return t.spawn(where, [
    bin, "waypoint", "--gateway", gw, "--node", node, "--control-plane", `${CP}:15012`, "--token-file", join(dir, `${node}.token`),
    "--data-dir", join(dir, where), "--drain-timeout", "2s", "--log-format", "json", "--log-level", "info,http=debug",
  ]);
}

const readyAt = (where: string, what: string) =>
  eventually(async () => expect((await curl(where, "http://127.0.0.1:15021/healthz/ready")).code).toBe(0), { timeoutMs: 20_000, what });

beforeAll(async () => {
  if (skip) return;
  bin = meshBinary();
  dir = mkdtempSync(join(tmpdir(), "mesh-waypoint-netns-"));
  t = await buildTopology(TOPOLOGY);
  t.spawn("cp", [bin, "control-plane", "--data-dir", join(dir, "cp"), "--xds-address", `${CP}:15012`, "--api-address", `${CP}:15014`, "--log-format", "json"]);
  await eventually(async () => expect((await curl("cp", `${API}/healthz/ready`)).code).toBe(0), { timeoutMs: 15_000, what: "control plane ready" });
  writeFileSync(join(dir, "mesh.yaml"), MESH);
  await mesh(["apply", "-f", join(dir, "mesh.yaml")]);
  for (const node of ["node-1", "node-2"]) writeFileSync(join(dir, `${node}.token`), (await mesh(["token", "create", "--node", node])).trim());
  for (const name of ["reviews", "details", "ratings", "hello"]) backends[name] = t.spawn(name, [process.execPath, "-e", BACKEND, name]);
  await Promise.all(Object.values(backends).map((b) => b.waitForOutput("listening")));
  for (const node of ["node-1", "node-2"]) {
    ztunnels[node] = t.spawn(node, [
      bin, "ztunnel", "--node", node, "--control-plane", `${CP}:15012`, "--token-file", join(dir, `${node}.token`),
      "--capture", "iptables", "--data-dir", join(dir, node), "--dns-upstreams", "127.0.0.1:9", "--drain-timeout", "2s", "--log-format", "json",
    ]);
  }
  waypoints["wp-a1"] = startWaypoint("wp-a1", "ns-a/waypoint", "node-1");
  waypoints["wp-a2"] = startWaypoint("wp-a2", "ns-a/waypoint", "node-2");
  waypoints["wp-b"] = startWaypoint("wp-b", "ns-b/waypoint-b", "node-2");
  await Promise.all([...["node-1", "node-2"].map((n) => readyAt(n, `${n} ztunnel ready`)), ...Object.keys(waypoints).map((w) => readyAt(w, `${w} waypoint ready`))]);
  for (const node of ["node-1", "node-2"]) {
    await eventually(async () => expect(await runOk(t.node(node).exec(["iptables-save", "-t", "nat"]))).toContain("MESH_ZTUNNEL_PREROUTING"), { what: `${node} capture rules` });
  }
}, 90_000);

afterAll(async () => {
  if (skip) return;
  await t?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(skip !== null)("waypoint in network namespaces (iptables capture, dist/mesh)", () => {
  test("A: a namespace waypoint carries sleep's request to a service VIP as HTTP, with sleep's identity", async () => {
    const got = await get("http://10.96.0.30:9080/pattern-a");
    // The backend sees the waypoint's proxy header naming sleep, over a connection from its own ztunnel.
    expect(got).toMatchObject({ name: "reviews", url: "/pattern-a", xff: "10.0.1.10" });
    await eventually(() => {
      const line = [...requestsAt(waypoints["wp-a1"] as SpawnedProcess), ...requestsAt(waypoints["wp-a2"] as SpawnedProcess)].find((l) => l.path === "/pattern-a");
      expect(line).toMatchObject({ method: "GET", response_code: 200, "src.identity": SLEEP_ID, "dst.identity": "spiffe://cluster.local/ns/ns-a/sa/reviews", "dst.service": "reviews.ns-a.svc.cluster.local" });
    });
    // The destination ztunnel admitted the waypoint, not sleep: the waypoint's kept-alive connection to reviews is open.
    const open = JSON.parse(await runOk(t.node("node-2").exec(["curl", "-sS", "http://127.0.0.1:15000/connections"]))) as Array<Record<string, unknown>>;
    const toReviews = open.filter((c) => c.direction === "inbound" && String(c.dst).startsWith("10.0.2.10:"));
    expect(toReviews.length).toBeGreaterThan(0);
    expect(new Set(toReviews.map((c) => c.srcIdentity))).toEqual(new Set([WAYPOINT_A_ID]));
  });

  test("B: a waypoint for one service only; the namespace's other service stays L4 and never reaches it", async () => {
    expect(await get("http://10.96.0.40:9080/pattern-b-l7")).toMatchObject({ name: "details", xff: "10.0.1.10" });
    await eventually(() => expect(requestsAt(waypoints["wp-b"] as SpawnedProcess).find((l) => l.path === "/pattern-b-l7")).toMatchObject({ "src.identity": SLEEP_ID, "dst.service": "details.ns-b.svc.cluster.local" }));

    for (let i = 0; i < 3; i++) expect(await get(`http://10.96.0.41:9080/pattern-b-l4/${i}`)).toMatchObject({ name: "ratings", xff: null });
    // ratings' ztunnel admitted sleep itself, three times: no waypoint in between.
    await eventually(() => {
      const inbound = ztunnelAccess("node-2").filter((l) => l.direction === "inbound" && String(l["dst.addr"]).startsWith("10.0.2.12:"));
      expect(inbound.map((l) => l["src.identity"])).toEqual([SLEEP_ID, SLEEP_ID, SLEEP_ID]);
    });
    for (const [name, p] of Object.entries(waypoints)) {
      expect({ name, seen: requestsAt(p).filter((l) => String(l.path).startsWith("/pattern-b-l4")) }).toEqual({ name, seen: [] });
      expect({ name, log: p.stderr().includes("10.96.0.41") || p.stderr().includes("10.0.2.12") }).toEqual({ name, log: false });
    }
    const outbound = ztunnelAccess("node-1").filter((l) => l.direction === "outbound" && String(l["dst.hbone_addr"]).startsWith("10.0.2.12:"));
    expect(outbound.length).toBe(3);
    for (const l of outbound) expect(l["dst.addr"]).toBe("10.0.2.12:15008");
  });

  test("C: one waypoint used by two namespaces (ns-c binds to ns-a's waypoint)", async () => {
    expect(await get("http://10.96.0.50:9080/pattern-c")).toMatchObject({ name: "hello", xff: "10.0.1.10" });
    await eventually(() => {
      const line = [...requestsAt(waypoints["wp-a1"] as SpawnedProcess), ...requestsAt(waypoints["wp-a2"] as SpawnedProcess)].find((l) => l.path === "/pattern-c");
      expect(line).toMatchObject({ response_code: 200, "src.identity": SLEEP_ID, "dst.service": "hello.ns-c.svc.cluster.local" });
    });
    expect(requestsAt(waypoints["wp-b"] as SpawnedProcess).find((l) => l.path === "/pattern-c")).toBeUndefined();
  });

  test("an upstream keep-alive connection the backend ends is closed, not left half-open and reused: the next requests succeed", async () => {
    const hello = backends.hello as SpawnedProcess;
    const open = () => Number(/open connections: (\d+)\n$/.exec(hello.stdout())?.[1] ?? -1);
    // Both replicas get a kept-alive connection to hello (the ztunnels alternate between them).
    for (let i = 0; i < 4; i++) expect(await get(`http://10.96.0.50:9080/keep-alive/${i}`)).toMatchObject({ name: "hello", xff: "10.0.1.10" });
    // hello ends idle connections after node:http's keep-alive timeout (5 s) and they close once the
    // waypoint has closed its side too (before the fix they stayed half-open, and the next request
    // written into one was reset: 503).
    await eventually(() => expect(open()).toBe(0), { what: "hello's idle upstream connections closed", timeoutMs: 15_000 });
    await eventually(async () => {
      const conns = JSON.parse(await runOk(t.node("node-2").exec(["curl", "-sS", "http://127.0.0.1:15000/connections"]))) as Array<Record<string, unknown>>;
      expect(conns.filter((c) => String(c.dst).startsWith("10.0.2.13:"))).toEqual([]);
    }, { what: "no tunnel to hello left open" });
    for (let i = 4; i < 8; i++) expect(await get(`http://10.96.0.50:9080/keep-alive/${i}`)).toMatchObject({ name: "hello", xff: "10.0.1.10" });
  });

  test("bad input at the waypoint is refused with 400/431 and a log line; a concurrent good request succeeds", async () => {
    const slow = curl("sleep", "http://10.96.0.30:9080/slow-good?ms=1500", []);
    const raw = async (payload: string) => {
      const r = await run(t.workload("sleep").exec([process.execPath, "-e", RAW_CLIENT]), { timeoutMs: 10_000, env: { ...process.env, TARGET: "10.96.0.30:9080", PAYLOAD: Buffer.from(payload, "latin1").toString("base64") } });
      return r.stdout;
    };
    const cases: Array<[string, string, RegExp]> = [
      ["Content-Length with Transfer-Encoding", "POST /smuggle HTTP/1.1\r\nHost: reviews\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: reviews\r\n\r\n", /^HTTP\/1\.1 400 /],
      ["obs-fold", "GET /fold HTTP/1.1\r\nHost: reviews\r\nX-Folded: a\r\n b\r\n\r\n", /^HTTP\/1\.1 400 /],
      ["bare LF", "GET /bare-lf HTTP/1.1\nHost: reviews\n\n", /^HTTP\/1\.1 400 /],
      ["oversized header", `GET /big HTTP/1.1\r\nHost: reviews\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`, /^HTTP\/1\.1 431 /],
    ];
    const answers = await Promise.all(cases.map(async ([name, payload]) => ({ name, status: await raw(payload) })));
    expect(answers.map((a) => a.name)).toEqual(cases.map((c) => c[0]));
    for (const [i, [name, , want]] of cases.entries()) expect({ name, status: answers[i]?.status }).toEqual({ name, status: expect.stringMatching(want) });
    const good = await slow;
    expect({ code: good.code, body: good.body }).toEqual({ code: 0, body: expect.stringContaining('"name":"reviews"') });
    await eventually(() => {
      const refused = [...jsonLines((waypoints["wp-a1"] as SpawnedProcess).stderr()), ...jsonLines((waypoints["wp-a2"] as SpawnedProcess).stderr())].filter((l) => l.msg === "bad request refused");
      expect(refused.length).toBe(cases.length);
      for (const l of refused) expect(l["src.identity"]).toBe(SLEEP_ID);
      expect(refused.map((l) => String(l.error)).sort()).toContain("HPE_HEADER_OVERFLOW");
    });
    // Nothing of a refused request reached the backend.
    const logged = [...requestsAt(waypoints["wp-a1"] as SpawnedProcess), ...requestsAt(waypoints["wp-a2"] as SpawnedProcess)].map((l) => String(l.path));
    for (const path of ["/smuggle", "/smuggled", "/fold", "/bare-lf", "/big"]) expect(logged).not.toContain(path);
  });

  test("a killed waypoint replica: the ztunnels fail over to the other and every request succeeds", async () => {
    const a1 = waypoints["wp-a1"] as SpawnedProcess;
    const a2 = waypoints["wp-a2"] as SpawnedProcess;
    const count = (p: SpawnedProcess, prefix: string) => requestsAt(p).filter((l) => String(l.path).startsWith(prefix)).length;
    // Both replicas serve: the ztunnels balance over them.
    for (let i = 0; i < 8; i++) await get(`http://10.96.0.30:9080/before-kill/${i}`);
    await eventually(() => expect(count(a1, "/before-kill/") + count(a2, "/before-kill/")).toBe(8));
    expect({ a1: count(a1, "/before-kill/") > 0, a2: count(a2, "/before-kill/") > 0 }).toEqual({ a1: true, a2: true });

    await a1.stop("SIGKILL");
    for (let i = 0; i < 12; i++) expect((await get(`http://10.96.0.30:9080/after-kill/${i}`)).name).toBe("reviews");
    await eventually(() => expect(count(a2, "/after-kill/")).toBe(12));
  });
});
