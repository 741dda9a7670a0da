/**
 * RequestAuthentication end to end, as operators run it: `dist/mesh` processes in network
 * namespaces built by the test — a control plane, node-1 (sleep) and node-2 (api, and a waypoint
 * replica as a workload of its own) with ztunnels in iptables mode — and an identity provider's
 * JWKS served over HTTPS from the control plane's host by a certificate of a throwaway CA, which
 * the waypoint trusts through `--jwks-ca-file`. Real curl from sleep's namespace.
 *
 * Istio's behaviour with a RequestAuthentication and no AuthorizationPolicy: no token 200; a token
 * signed by the JWKS's key 200 (the api sees the claim header, not the token); a bad one 401 with
 * Envoy's body and `www-authenticate`; after the issuer rotates its key out (a token with the new
 * kid makes the waypoint fetch the JWKS again), the old key's tokens 401. Root only; every
 * namespace and process is removed at the end, also on failure.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jwksOf, rsaKey, signToken, type TestKey } from "../../plugins/jwt/tokens.test-support.ts";
import { meshBinary } from "../support/binary.ts";
import { run, runOk } from "../support/command.ts";
import { eventually } from "../support/eventually.ts";
import { makeServerCertificate } from "../support/jwks-server.ts";
import { skipReason } from "../support/requirements.ts";
import { buildTopology, type SpawnedProcess, type Topology, type TopologySpec } from "../support/topology.ts";

const skip = skipReason("jwt waypoint in network namespaces", { root: true, commands: ["ip", "iptables", "curl", "openssl"] });

const CP = "192.168.77.2";
const API = `http://${CP}:15014`;
const JWKS_URI = `https://${CP}:8443/jwks`;
const ISS = "https://idp.example";
const API_URL = "http://10.96.0.30:9080/api";

const TOPOLOGY: TopologySpec = {
  cpLanIp: CP,
  nodes: [
    { name: "node-1", lanIp: "192.168.77.11", workloads: [{ name: "sleep", ip: "10.0.1.10" }] },
    { name: "node-2", lanIp: "192.168.77.12", workloads: [{ name: "api", ip: "10.0.2.10" }, { name: "wp", ip: "10.0.2.20" }] },
  ],
};

const MESH = `apiVersion: v1
kind: Namespace
metadata: {name: client, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {istio.io/dataplane-mode: ambient, istio.io/use-waypoint: waypoint}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: shop}
spec: {gatewayClassName: istio-waypoint, listeners: [{name: mesh, port: 15008, protocol: HBONE}]}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec: {selector: {app: api}, clusterIP: 10.96.0.30, ports: [{name: http, port: 9080}]}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: sleep, namespace: client}
spec: {address: 10.0.1.10, node: node-1, hostInterface: sleep, serviceAccount: sleep, labels: {app: sleep}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: api, namespace: shop}
spec: {address: 10.0.2.10, node: node-2, hostInterface: api, serviceAccount: api, labels: {app: api}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: waypoint-1, namespace: shop}
spec: {address: 10.0.2.20, node: node-2, hostInterface: wp, serviceAccount: waypoint, labels: {gateway.networking.k8s.io/gateway-name: waypoint}}
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: api-jwt, namespace: shop}
spec:
  targetRefs: [{group: "", kind: Service, name: api}]
  jwtRules:
  - issuer: ${ISS}
    jwksUri: ${JWKS_URI}
    audiences: [api]
    outputClaimToHeaders: [{header: x-jwt-sub, claim: sub}]
`;

/** The api: answers with the path and the headers the waypoint let through. */
const BACKEND = `require("node:http").createServer((req, res) => res.end(JSON.stringify({ url: req.url, sub: req.headers["x-jwt-sub"] ?? null, authorization: req.headers.authorization ?? null })))
  .listen(9080, "0.0.0.0", () => console.log("listening"));`;

/** The identity provider's JWKS endpoint: the file's current content, over HTTPS; counts requests. */
const IDP = `const fs = require("node:fs");
const [cert, key, jwks] = process.argv.slice(1);
let n = 0;
require("node:https").createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) }, (req, res) => {
  console.log("jwks request " + ++n);
  res.writeHead(200, { "content-type": "application/json" }).end(fs.readFileSync(jwks));
}).listen(8443, "0.0.0.0", () => console.log("listening"));`;

let t: Topology;
let dir: string;
let bin: string;
let idp: SpawnedProcess;
let k1: TestKey;
let k2: TestKey;

const token = (key: TestKey, extra: Record<string, unknown> = {}) => signToken(key, { iss: ISS, sub: "alice", aud: "api", exp: Math.floor(Date.now() / 1000) + 600, ...extra });
const mesh = (args: readonly string[]) => runOk(t.host("cp").exec([bin, ...args, "--server", API, "--admin-token-file", join(dir, "cp", "admin-token")]), { timeoutMs: 15_000 });

/** curl from sleep's namespace: status, the www-authenticate header and the body. */
async function call(bearer?: string): Promise<{ status: number; wwwAuthenticate: string | null; body: string }> {
  const r = await run(t.host("sleep").exec(["curl", "-sS", "-i", "--max-time", "5", ...(bearer ? ["-H", `authorization: Bearer ${bearer}`] : []), API_URL]), { timeoutMs: 10_000 });
  if (r.code !== 0) throw new Error(`curl exit ${r.code}: ${r.stdout}${r.stderr}`);
  const [head = "", body = ""] = r.stdout.split("\r\n\r\n");
  const status = Number(head.split(" ")[1]);
  const www = /^www-authenticate: (.*)$/im.exec(head);
  return { status, wwwAuthenticate: www ? (www[1] as string).trim() : null, body };
}

const readyAt = (where: string, what: string) =>
  eventually(async () => expect((await run(t.host(where).exec(["curl", "-sS", "--max-time", "2", "http://127.0.0.1:15021/healthz/ready"]))).code).toBe(0), { timeoutMs: 20_000, what });

beforeAll(async () => {
  if (skip) return;
  bin = meshBinary();
  dir = mkdtempSync(join(tmpdir(), "mesh-jwt-netns-"));
  [k1, k2] = await Promise.all([rsaKey("k1"), rsaKey("k2")]);
  const cert = await makeServerCertificate(CP);
  writeFileSync(join(dir, "idp.pem"), cert.certPem);
  writeFileSync(join(dir, "idp.key"), cert.keyPem);
  writeFileSync(join(dir, "idp-ca.pem"), cert.caPem);
  writeFileSync(join(dir, "jwks.json"), jwksOf(k1));
  t = await buildTopology(TOPOLOGY);
  t.spawn("cp", [bin, "control-plane", "--data-dir", join(dir, "cp"), "--xds-address", `${CP}:15012`, "--api-address", `${CP}:15014`, "--log-format", "json"]);
  idp = t.spawn("cp", [process.execPath, "-e", IDP, join(dir, "idp.pem"), join(dir, "idp.key"), join(dir, "jwks.json")]);
  await idp.waitForOutput("listening");
  await eventually(async () => expect((await run(t.host("cp").exec(["curl", "-sS", `${API}/healthz/ready`]))).code).toBe(0), { timeoutMs: 15_000, what: "control plane ready" });
  writeFileSync(join(dir, "mesh.yaml"), MESH);
  await mesh(["apply", "-f", join(dir, "mesh.yaml")]);
  for (const node of ["node-1", "node-2"]) writeFileSync(join(dir, `${node}.token`), (await mesh(["token", "create", "--node", node])).trim());
  await t.spawn("api", [process.execPath, "-e", BACKEND]).waitForOutput("listening");
  for (const node of ["node-1", "node-2"]) {
    t.spawn(node, [
      bin, "ztunnel", "--node", node, "--control-plane", `${CP}:15012`, "--token-file", join(dir, `${node}.token`),
      "--capture", "iptables", "--data-dir", join(dir, node), "--dns-upstreams", "127.0.0.1:9", "--drain-timeout", "2s", "--log-format", "json",
    ]);
  }
  t.spawn("wp", [
    bin, "waypoint", "--gateway", "shop/waypoint", "--node", "node-2", "--control-plane", `${CP}:15012`, "--token-file", join(dir, "node-2.token"),
    "--data-dir", join(dir, "wp"), "--jwks-ca-file", join(dir, "idp-ca.pem"), "--drain-timeout", "2s", "--log-format", "json",
  ]);
  await Promise.all([readyAt("node-1", "node-1 ztunnel ready"), readyAt("node-2", "node-2 ztunnel ready"), readyAt("wp", "waypoint ready")]);
  for (const node of ["node-1", "node-2"]) {
    await eventually(async () => expect(await runOk(t.node(node).exec(["iptables-save", "-t", "nat"]))).toContain("MESH_ZTUNNEL_PREROUTING"), { what: `${node} capture rules` });
  }
}, 90_000);

afterAll(async () => {
  if (skip) return;
  await t?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(skip !== null)("RequestAuthentication on a waypoint in network namespaces (dist/mesh, JWKS over HTTPS)", () => {
  test("a token signed by the JWKS's key: 200; the api sees the claim header, not the token", async () => {
    const t1 = await token(k1);
    await eventually(async () => expect(await call(t1)).toMatchObject({ status: 200, body: JSON.stringify({ url: "/api", sub: "alice", authorization: null }) }), { timeoutMs: 15_000, what: "a valid token passes" });
  }, 30_000);

  test("no token: 200 (no AuthorizationPolicy requires one, as in Istio)", async () => {
    expect(await call()).toMatchObject({ status: 200, wwwAuthenticate: null, body: JSON.stringify({ url: "/api", sub: null, authorization: null }) });
  });

  test("a bad token: 401 with Envoy's body and www-authenticate", async () => {
    expect(await call(await token(k1, { exp: 1000 }))).toEqual({ status: 401, wwwAuthenticate: 'Bearer realm="http://10.96.0.30:9080/api", error="invalid_token"', body: "Jwt is expired" });
    const [h, p] = (await token(k1)).split(".");
    expect(await call(`${h}.${p}.${(await token(k2)).split(".")[2]}`)).toMatchObject({ status: 401, body: "Jwt verification fails" });
  });

  test("the issuer rotates k1 out of its JWKS: a k2 token is accepted after the waypoint fetches again; k1 tokens then get 401", async () => {
    writeFileSync(join(dir, "jwks.json"), jwksOf(k2));
    const t2 = await token(k2);
    await eventually(async () => expect((await call(t2)).status).toBe(200), { timeoutMs: 15_000, intervalMs: 500, what: "the rotated JWKS fetched" });
    expect(await call(await token(k1))).toMatchObject({ status: 401, body: "Jwks doesn't have key to match kid or alg from Jwt" });
    expect(idp.stdout()).toContain("jwks request 2");
  }, 30_000);
});
