import { describe, expect, test } from "bun:test";
import { isMeshError } from "../errors/mesh-error.ts";
import type { AuthorizationView, ServiceView, WorkloadView } from "../state/view.ts";
import { decodeAuthorization, decodeService, decodeWorkload, encodeAuthorization, encodeService, encodeWorkload } from "./wire.ts";

const workload: WorkloadView = {
  uid: "u-1",
  name: "pp-1",
  namespace: "bookinfo",
  addresses: ["10.0.2.10", "fd00::a"],
  node: "node-2",
  serviceAccount: "bookinfo-productpage",
  trustDomain: "cluster.local",
  labels: { app: "productpage" },
  services: { "bookinfo/productpage.bookinfo.svc.cluster.local": [{ servicePort: 9080, targetPort: 9080 }] },
  waypoint: { namespace: "bookinfo", name: "wp", hbonePort: 15008 },
  authorizationPolicies: ["bookinfo/viewer"],
  mtlsMode: "strict",
  portMtlsModes: { 8080: "disable" },
  captured: true,
  network: "",
  hostInterface: "veth-pp-1",
};
const service: ServiceView = {
  name: "productpage",
  namespace: "bookinfo",
  hostname: "productpage.bookinfo.svc.cluster.local",
  vips: ["10.96.0.20"],
  ports: [{ servicePort: 9080, targetPort: 0 }],
};
const authorization: AuthorizationView = {
  name: "viewer",
  namespace: "bookinfo",
  scope: "workload",
  action: "allow",
  rules: [
    {
      from: [{ principals: ["cluster.local/ns/bookinfo/sa/sleep"], notPrincipals: [], namespaces: [], notNamespaces: [], ipBlocks: ["10.0.0.0/8"], notIpBlocks: [] }],
      to: [{ ports: [9080], notPorts: [] }],
      when: [{ key: "source.namespace", values: ["bookinfo"], notValues: [] }],
    },
  ],
};

describe("xDS wire conversion", () => {
  test("round trips", () => {
    expect(decodeWorkload("bookinfo/pp-1", encodeWorkload(workload))).toEqual(workload);
    expect(decodeService("bookinfo/productpage.bookinfo.svc.cluster.local", encodeService(service))).toEqual(service);
    expect(decodeAuthorization("bookinfo/viewer", encodeAuthorization(authorization))).toEqual(authorization);
  });
  test("a resource whose name does not match its content is refused", () => {
    expect(() => decodeWorkload("bookinfo/other", encodeWorkload(workload))).toThrow(/bookinfo\/other: name:/);
  });
  test("the host interface is optional and must be an interface name", () => {
    const { hostInterface: _, ...unbound } = workload;
    expect(decodeWorkload("bookinfo/pp-1", encodeWorkload(unbound))).toEqual(unbound);
    expect(() => decodeWorkload("bookinfo/pp-1", encodeWorkload({ ...workload, hostInterface: "a/b" }))).toThrow(/host_interface/);
  });
  test("a bad address or CIDR names its field", () => {
    const bytes = encodeAuthorization({ ...authorization, rules: [{ ...authorization.rules[0]!, from: [{ ...authorization.rules[0]!.from[0]!, ipBlocks: ["10.0.0.0/99"] }] }] });
    expect(() => decodeAuthorization("bookinfo/viewer", bytes)).toThrow(/rules\[0\]\.from\[0\]\.ip_blocks\[0\]/);
  });
  test("random bytes are refused with a MeshError, never a crash (seeded)", () => {
    let seed = 0x5eed;
    const next = () => ((seed = (seed * 1103515245 + 12345) >>> 0) & 0xff);
    const good = [encodeWorkload(workload), encodeService(service), encodeAuthorization(authorization)];
    for (let i = 0; i < 3000; i++) {
      const base = good[i % 3] as Uint8Array;
      const bytes = i % 2 === 0 ? Uint8Array.from({ length: next() }, next) : base.map((b) => (next() < 8 ? next() : b));
      for (const [decode, name] of [[decodeWorkload, "bookinfo/pp-1"], [decodeService, "bookinfo/productpage.bookinfo.svc.cluster.local"], [decodeAuthorization, "bookinfo/viewer"]] as const) {
        try {
          decode(name, bytes);
        } catch (err) {
          if (!isMeshError(err, "invalid_argument")) throw new Error(`case ${i}: ${String(err)}`);
        }
      }
    }
  });
});
