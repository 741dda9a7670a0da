/**
 * In-process integration: `mesh waypoint apply|list|status|delete` and `mesh token create
 * --waypoint` through runCli against a real control plane (REST API and xDS on loopback), with a
 * real xDS stream standing in for a connected waypoint replica.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../src/cli/main.ts";
import { type RunningControlPlane } from "../src/controlplane/server.ts";
import { bunRuntime } from "../src/runtime/bun.ts";
import { WAYPOINT_CONFIG_TYPE } from "../src/xds/type-urls.ts";
import { RawAdsStream } from "./support/ads-stream.ts";
import { applyAndWait, BOOKINFO_YAML, startTestControlPlane } from "./support/control-plane.ts";
import { eventually } from "./support/eventually.ts";

let dir: string;
let cp: RunningControlPlane;
const streams: RawAdsStream[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "mesh-waypoint-cli-"));
  cp = await startTestControlPlane(dir);
  await applyAndWait(cp, BOOKINFO_YAML);
});
afterAll(async () => {
  for (const s of streams) s.close();
  await cp?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function mesh(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const api = ["--server", `http://127.0.0.1:${cp.apiAddress.port}`, "--admin-token-file", join(dir, "admin-token")];
  const code = await runCli(bunRuntime, [...argv, ...api], { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

const REPLICA = `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: waypoint-1, namespace: bookinfo}
spec: {address: 10.0.2.40, node: node-2, serviceAccount: waypoint, labels: {gateway.networking.k8s.io/gateway-name: waypoint}}
`;

describe("mesh waypoint against a control plane", () => {
  test("apply creates the Gateway and enrolls the namespace, keeping its other labels", async () => {
    const r = await mesh("waypoint", "apply", "-n", "bookinfo", "--for", "all", "--enroll-namespace");
    expect(r).toMatchObject({ code: 0, out: "gateway/bookinfo/waypoint created\nnamespace/bookinfo configured" });
    const gw = await cp.store.get({ kind: "Gateway", namespace: "bookinfo", name: "waypoint" });
    expect(gw?.metadata.labels).toEqual({ "istio.io/waypoint-for": "all" });
    expect(gw?.spec).toEqual({ gatewayClassName: "istio-waypoint", listeners: [{ name: "mesh", port: 15008, protocol: "HBONE" }] });
    const ns = await cp.store.get({ kind: "Namespace", namespace: "", name: "bookinfo" });
    expect(ns?.metadata.labels).toEqual({ "istio.io/dataplane-mode": "ambient", "istio.io/use-waypoint": "waypoint" });
    // Applying the same again changes nothing; a second waypoint in a namespace that does not exist creates it.
    expect((await mesh("waypoint", "apply", "-n", "bookinfo", "--for", "all", "--enroll-namespace")).out).toBe("gateway/bookinfo/waypoint unchanged\nnamespace/bookinfo unchanged");
    expect((await mesh("waypoint", "apply", "-n", "shop", "--name", "edge", "--enroll-namespace")).out).toBe("gateway/shop/edge created\nnamespace/shop created");
  });

  test("list in a namespace and across all", async () => {
    expect((await mesh("waypoint", "list", "-n", "bookinfo")).out).toBe("NAMESPACE   NAME       FOR   REPLICAS\nbookinfo    waypoint   all   0");
    expect((await mesh("waypoint", "list", "-A")).out).toBe("NAMESPACE   NAME       FOR       REPLICAS\nbookinfo    waypoint   all       0\nshop        edge       service   0");
    expect((await mesh("waypoint", "list", "-n", "nowhere")).out).toBe("No waypoints found.");
  });

  test("status follows replicas and their connection; --wait is bounded and then succeeds", async () => {
    expect((await mesh("waypoint", "status", "-n", "bookinfo")).out).toStartWith("Waypoint bookinfo/waypoint (for all): not programmed\nNo replicas");
    await applyAndWait(cp, REPLICA);
    expect((await mesh("waypoint", "status", "-n", "bookinfo")).out).toBe(
      "Waypoint bookinfo/waypoint (for all): not programmed\nREPLICA      ADDRESS     NODE     SERVICE-ACCOUNT   CONNECTED\nwaypoint-1   10.0.2.40   node-2   waypoint          no",
    );
    const started = Date.now();
    const timedOut = await mesh("waypoint", "apply", "-n", "bookinfo", "--for", "all", "--wait", "--timeout", "1s");
    expect({ code: timedOut.code, err: timedOut.err }).toEqual({ code: 9, err: expect.stringContaining("waypoint bookinfo/waypoint: no replica connected within 1000 ms") });
    expect(Date.now() - started).toBeLessThan(5000);

    // A replica connects with a waypoint token minted through the CLI.
    const minted = await mesh("token", "create", "--waypoint", "bookinfo/waypoint");
    expect(minted.code).toBe(0);
    const replica = new RawAdsStream(`http://127.0.0.1:${cp.xdsAddress.port}`, minted.out.trim());
    streams.push(replica);
    replica.send({ node: { id: "node-2", cluster: "waypoint" }, typeUrl: WAYPOINT_CONFIG_TYPE });
    const waited = await mesh("waypoint", "apply", "-n", "bookinfo", "--for", "all", "--wait", "--timeout", "10s");
    expect(waited.code).toBe(0);
    expect(waited.out).toContain("Waypoint bookinfo/waypoint (for all): programmed");
    expect(waited.out).toMatch(/waypoint-1 +10\.0\.2\.40 +node-2 +waypoint +yes \(waypoint token\)/);
    expect(replica.ended).toBeUndefined();
    expect((await mesh("token", "list")).out).toMatch(/\S+ +waypoint bookinfo\/waypoint +\S+ +valid/);
    expect((await mesh("token", "revoke", "--waypoint", "bookinfo/waypoint")).out).toMatch(/^token\/\S+ \(waypoint bookinfo\/waypoint\) revoked$/);
    await eventually(() => expect(replica.ended?.code).toBe("16")); // UNAUTHENTICATED: revocation ends the stream
    await eventually(async () => expect((await mesh("waypoint", "status", "-n", "bookinfo")).out).toEndWith("node-2   waypoint          no"));
  });

  test("status shows the translation warnings that name the waypoint, and only those", async () => {
    expect((await mesh("waypoint", "apply", "-n", "shop", "--name", "edge2")).code).toBe(0);
    const route = (name: string, gateway: string) =>
      `apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: ${name}, namespace: shop}\nspec: {parentRefs: [{kind: Gateway, name: ${gateway}}], rules: [{backendRefs: [{name: cart, port: 80}]}]}\n`;
    await applyAndWait(cp, `${route("to-edge2", "edge2")}---\n${route("to-edge", "edge")}`);
    const status = (await mesh("waypoint", "status", "-n", "shop", "--name", "edge2")).out;
    expect(status.split("Warnings:\n")[1]).toBe("  HTTPRoute shop/to-edge2: parentRef Gateway shop/edge2 is a waypoint: attach routes to the Services it fronts (kind Service)");
    expect((await mesh("waypoint", "delete", "-n", "shop", "edge2")).code).toBe(0);
    await cp.store.commit([{ type: "delete", key: { kind: "HTTPRoute", namespace: "shop", name: "to-edge2" } }, { type: "delete", key: { kind: "HTTPRoute", namespace: "shop", name: "to-edge" } }]);
  });

  test("delete by name, --all, and refusals", async () => {
    const missing = await mesh("waypoint", "delete", "-n", "shop", "edge", "nothere");
    expect(missing.code).toBe(4);
    expect(await cp.store.get({ kind: "Gateway", namespace: "shop", name: "edge" })).toBeDefined();
    expect((await mesh("waypoint", "delete", "-n", "shop")).code).toBe(2);
    expect((await mesh("waypoint", "delete", "-n", "shop", "edge", "--all")).code).toBe(2);
    const r = await mesh("waypoint", "delete", "-n", "bookinfo", "--all");
    expect(r).toMatchObject({ code: 0, out: "gateway/bookinfo/waypoint deleted" });
    expect(r.err).toContain("namespace bookinfo still has istio.io/use-waypoint: waypoint");
    expect((await mesh("waypoint", "delete", "-n", "shop", "edge")).out).toBe("gateway/shop/edge deleted");
    expect((await mesh("waypoint", "status", "-n", "bookinfo")).code).toBe(4);
    expect((await mesh("waypoint", "list", "-A")).out).toBe("No waypoints found.");
  });
});
