/**
 * HTTP/2 through the waypoint on whatever runtime runs this script (`deno run -A --unstable-ffi
 * test/deno/waypoint-h2.ts`; test/waypoint-deno.test.ts runs it under Deno): the in-process mesh
 * of test/support/waypoint-mesh.ts (control plane, two ztunnels, a waypoint replica), an h2c
 * endpoint with a route in front of it, and h2c clients from sleep. Prints one JSON line with what
 * it saw and exits 0, or prints the error and exits 1.
 */
import { createHash } from "node:crypto";
import http2 from "node:http2";
import { h2request, h2send, h2session } from "../support/h2-client.ts";
import { startWaypointMesh, type WaypointMesh } from "../support/waypoint-mesh.ts";

const MESH = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: bookinfo}
spec: {gatewayClassName: istio-waypoint, listeners: [{name: mesh, port: HBONE_PORT, protocol: HBONE}]}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: waypoint-1, namespace: bookinfo}
spec: {address: 127.0.7.11, node: node-2, serviceAccount: waypoint-1, labels: {gateway.networking.k8s.io/gateway-name: waypoint}}
---
apiVersion: v1
kind: Service
metadata: {name: denoweb, namespace: bookinfo, labels: {istio.io/use-waypoint: waypoint}}
spec: {selector: {app: denoweb}, clusterIP: 10.96.0.71, ports: [{name: http2-web, port: 8080}]}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: denoweb-1, namespace: bookinfo}
spec: {address: 127.0.6.31, node: node-2, serviceAccount: denoweb, labels: {app: denoweb}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: denoweb, namespace: bookinfo}
spec:
  parentRefs: [{group: "", kind: Service, name: denoweb, port: 8080}]
  rules:
  - filters: [{type: ResponseHeaderModifier, responseHeaderModifier: {add: [{name: x-route, value: denoweb}]}}]
    backendRefs: [{name: denoweb, port: 8080}]
`;

/** Answers with the body's length and sha256 and a trailer, once the request ended. */
function endpoint(): Promise<http2.Http2Server> {
  const server = http2.createServer();
  server.on("stream", (stream, headers) => {
    stream.on("error", () => {});
    if (String(headers[":path"]).startsWith("/big")) {
      stream.respond({ ":status": 200 });
      return void stream.end(Buffer.alloc(BIG, 7));
    }
    const hash = createHash("sha256");
    let bytes = 0;
    stream.on("data", (c: Uint8Array) => ((bytes += c.byteLength), hash.update(c)));
    stream.on("end", () => {
      stream.respond({ ":status": 200, trailer: "x-bytes" }, { waitForTrailers: true });
      stream.on("wantTrailers", () => stream.sendTrailers({ "x-bytes": String(bytes) }));
      stream.end(hash.digest("hex"));
    });
  });
  return new Promise((resolve) => server.listen(8080, "127.0.6.31", () => resolve(server)));
}

/** Large responses, then the client's GOAWAY: what aborted Deno's node:http2 server (PLATFORM-NOTES). */
const BIG = 300_000;

let mesh: WaypointMesh | undefined;
let server: http2.Http2Server | undefined;
let code = 0;
try {
  server = await endpoint();
  mesh = await startWaypointMesh({ yaml: MESH, addresses: { node1: "127.0.0.47", node2: "127.0.0.48", waypointAdmin: "127.0.0.49" } });
  const route = { from: "127.0.1.10", socks: mesh.socks, host: "denoweb.bookinfo", port: 8080 };
  const one = await h2request(route, { path: "/one", method: "POST", body: "hello" });
  // Many requests on one connection, several sessions in a row (the known Deno abort was on GOAWAY after responses).
  const statuses: number[] = [];
  for (let c = 0; c < 5; c++) {
    const session = await h2session(route);
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => h2send(session, { path: `/many/${i}`, method: "POST", body: "x".repeat(2000) })));
    statuses.push(...answers.map((a) => Number(a.headers[":status"])));
    session.close();
  }
  let bigBytes = 0;
  for (let c = 0; c < 5; c++) {
    const session = await h2session(route);
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => h2send(session, { path: `/big/${i}` })));
    bigBytes += answers.reduce((n, a) => n + a.body.length, 0);
    session.close();
  }
  // A client that goes away mid-response (GOAWAY and a closed tunnel with large responses in flight), then one more request.
  for (let c = 0; c < 3; c++) {
    const session = await h2session(route);
    await Promise.race(Array.from({ length: 8 }, (_, i) => h2send(session, { path: `/big/abrupt/${i}` }).catch(() => {})));
    session.destroy();
  }
  const after = await h2request(route, { path: "/after", method: "POST", body: "again" });
  console.log(JSON.stringify({ afterAbrupt: Number(after.headers[":status"]), runtime: "Deno" in globalThis ? "deno" : "bun", status: Number(one.headers[":status"]), route: one.headers["x-route"], body: one.body, trailer: one.trailers?.["x-bytes"], ok: statuses.filter((s) => s === 200).length, total: statuses.length, bigBytes }));
} catch (err) {
  console.error(err);
  code = 1;
} finally {
  await mesh?.close();
  server?.close();
}
process.exit(code);
