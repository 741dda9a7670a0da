/**
 * In-process integration: a waypoint token (`mesh token create --waypoint NS/NAME`) against a real
 * control plane — the CA signs the waypoint's identity and nothing else on its node, and xDS serves
 * it only as role waypoint, only its own Gateway's config.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { type RunningControlPlane } from "../src/controlplane/server.ts";
import { IstioCertificateService } from "../src/gen/istio/v1/auth/ca_pb.ts";
import { createCsr, generateWorkloadKey } from "../src/identity/x509/csr.ts";
import { WAYPOINT_CONFIG_TYPE } from "../src/xds/type-urls.ts";
import { RawAdsStream } from "./support/ads-stream.ts";
import { applyAndWait, BOOKINFO_YAML, startTestControlPlane, WAYPOINT_YAML } from "./support/control-plane.ts";
import { eventually } from "./support/eventually.ts";

/** A second waypoint in bookinfo whose replica shares node-2 with bookinfo/waypoint's. */
const OTHER_WAYPOINT_YAML = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: reviews-waypoint, namespace: bookinfo}
spec: {gatewayClassName: istio-waypoint, listeners: [{name: mesh, port: 15008, protocol: HBONE}]}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: reviews-waypoint-1, namespace: bookinfo}
spec: {address: 10.0.2.41, node: node-2, serviceAccount: reviews-waypoint, labels: {gateway.networking.k8s.io/gateway-name: reviews-waypoint}}
`;

let dir: string;
let cp: RunningControlPlane;
let ca: ReturnType<typeof createClient<typeof IstioCertificateService>>;
const streams: RawAdsStream[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "mesh-waypoint-token-"));
  cp = await startTestControlPlane(dir);
  await applyAndWait(cp, `${BOOKINFO_YAML}\n---\n${WAYPOINT_YAML}---\n${OTHER_WAYPOINT_YAML}`);
  ca = createClient(IstioCertificateService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${cp.xdsAddress.port}` }));
});
afterAll(async () => {
  for (const s of streams) s.close();
  await cp?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function sign(spiffeId: string, token: string) {
  const csr = await createCsr(await generateWorkloadKey(), spiffeId);
  return ca.createCertificate({ csr, validityDuration: 3600n }, { headers: { authorization: `Bearer ${token}` } });
}

async function refusal(p: Promise<unknown>): Promise<{ code: Code; message: string }> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConnectError);
  return { code: (err as ConnectError).code, message: (err as ConnectError).rawMessage };
}

function stream(token: string, node: string, role: string): RawAdsStream {
  const s = new RawAdsStream(`http://127.0.0.1:${cp.xdsAddress.port}`, token);
  streams.push(s);
  s.send({ node: { id: node, cluster: role }, typeUrl: WAYPOINT_CONFIG_TYPE });
  return s;
}

const waypointConfigNames = (s: RawAdsStream) => s.received.filter((r) => r.typeUrl === WAYPOINT_CONFIG_TYPE).flatMap((r) => r.resources.map((x) => x.name));

describe("a waypoint token", () => {
  test("the CA signs the waypoint's identity, and refuses a workload on the same node and another waypoint", async () => {
    const { token } = await cp.tokens.mintWaypoint({ namespace: "bookinfo", name: "waypoint" }, 3600_000);
    expect((await sign("spiffe://cluster.local/ns/bookinfo/sa/waypoint", token)).certChain).toHaveLength(2);
    // productpage runs on node-2 too: a node-2 token could have it, the waypoint's cannot.
    const nodeToken = (await cp.tokens.mint("node-2", 3600_000)).token;
    expect((await sign("spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage", nodeToken)).certChain).toHaveLength(2);
    expect(await refusal(sign("spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage", token))).toEqual({
      code: Code.PermissionDenied,
      message: "waypoint bookinfo/waypoint is not spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage (only its replicas' service account)",
    });
    // Nor the other waypoint's identity on the same node.
    expect((await refusal(sign("spiffe://cluster.local/ns/bookinfo/sa/reviews-waypoint", token))).code).toBe(Code.PermissionDenied);
  });

  test("xDS: refused as a ztunnel and on a node without its replica; as its waypoint it gets its own config only", async () => {
    const { token } = await cp.tokens.mintWaypoint({ namespace: "bookinfo", name: "waypoint" }, 3600_000);
    const asZtunnel = stream(token, "node-2", "ztunnel");
    const elsewhere = stream(token, "node-1", "waypoint");
    await eventually(() => expect(asZtunnel.ended).toEqual({ code: String(Code.PermissionDenied), message: "the token of waypoint bookinfo/waypoint cannot open a ztunnel stream" }));
    await eventually(() => expect(elsewhere.ended).toEqual({ code: String(Code.PermissionDenied), message: "waypoint bookinfo/waypoint has no replica on node node-1" }));
    expect(asZtunnel.received).toEqual([]);
    expect(elsewhere.received).toEqual([]);

    const own = stream(token, "node-2", "waypoint");
    const withNodeToken = stream((await cp.tokens.mint("node-2", 3600_000)).token, "node-2", "waypoint");
    await eventually(() => expect(waypointConfigNames(withNodeToken).sort()).toEqual(["bookinfo/reviews-waypoint", "bookinfo/waypoint"]));
    await eventually(() => expect(waypointConfigNames(own)).toEqual(["bookinfo/waypoint"]));
    expect(own.ended).toBeUndefined();
  });
});
