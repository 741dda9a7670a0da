import { describe, expect, test } from "bun:test";
import { formatIp } from "../../net/ip.ts";
import type { ServiceView } from "../../state/view.ts";
import { CLASS_IN, RR_TYPE } from "./message.ts";
import { type DnsDecision, DnsTable, type DnsTableOptions } from "./resolve.ts";

const svc = (name: string, namespace: string, vips: string[], hostname = `${name}.${namespace}.svc.cluster.local`): ServiceView => ({
  name,
  namespace,
  hostname,
  vips,
  ports: [{ servicePort: 9080, targetPort: 0 }],
});

const services: ServiceView[] = [
  svc("productpage", "bookinfo", ["10.96.0.10", "fd00::10"]),
  svc("reviews", "bookinfo", ["10.96.0.11"]),
  svc("ratings", "bookinfo", ["fd00::12"]),
  svc("novips", "bookinfo", []),
  svc("reviews", "other", ["10.96.1.11"]),
  svc("api-se", "bookinfo", ["240.240.0.1"], "api.example.com"),
  // Two ServiceEntries with one host: the client's namespace wins, else the first by namespace.
  svc("shared-b", "zeta", ["240.0.0.2"], "shared.example.com"),
  svc("shared-a", "alpha", ["240.0.0.1"], "Shared.Example.com."),
  svc("wild", "bookinfo", ["240.0.0.9"], "*.wild.example.com"),
  svc("badvip", "bookinfo", ["not-an-ip", "10.96.0.99"]),
];

type Expect = "forward" | "nxdomain" | string[]; // addresses as text; [] = empty NOERROR
type Case = [string, string, number, string | undefined, Expect, DnsTableOptions?];

const A = RR_TYPE.A;
const AAAA = RR_TYPE.AAAA;

const cases: Case[] = [
  ["FQDN, A", "productpage.bookinfo.svc.cluster.local", A, undefined, ["10.96.0.10"]],
  ["FQDN, AAAA", "productpage.bookinfo.svc.cluster.local", AAAA, undefined, ["fd00::10"]],
  ["FQDN, ANY: both families", "productpage.bookinfo.svc.cluster.local", RR_TYPE.ANY, undefined, ["10.96.0.10", "fd00::10"]],
  ["trailing dot", "productpage.bookinfo.svc.cluster.local.", A, undefined, ["10.96.0.10"]],
  ["case-insensitive", "ProductPage.BookInfo.SVC.Cluster.Local", A, undefined, ["10.96.0.10"]],
  ["<svc>.<ns>.svc", "reviews.bookinfo.svc", A, undefined, ["10.96.0.11"]],
  ["<svc>.<ns>.svc.", "reviews.other.svc.", A, undefined, ["10.96.1.11"]],
  ["<svc>.<ns>", "reviews.other", A, "bookinfo", ["10.96.1.11"]],
  ["<svc> with the client's namespace", "reviews", A, "bookinfo", ["10.96.0.11"]],
  ["<svc> in another namespace", "reviews", A, "other", ["10.96.1.11"]],
  ["<svc> without a client namespace: forwarded", "reviews", A, undefined, "forward"],
  ["<svc> absent from the client's namespace", "ratings", AAAA, "other", "forward"],
  ["A for a service with only IPv6: empty NOERROR", "ratings.bookinfo", A, undefined, []],
  ["AAAA for a service with only IPv4: empty NOERROR", "reviews.bookinfo", AAAA, undefined, []],
  ["a service without VIPs: empty NOERROR", "novips.bookinfo.svc.cluster.local", A, undefined, []],
  ["other types of a mesh name: empty NOERROR, never forwarded", "productpage.bookinfo", RR_TYPE.HTTPS, undefined, []],
  ["MX of a mesh name", "productpage.bookinfo", RR_TYPE.MX, undefined, []],
  ["ServiceEntry host, exactly", "api.example.com", A, undefined, ["240.240.0.1"]],
  ["ServiceEntry host, any case, trailing dot", "API.example.COM.", A, undefined, ["240.240.0.1"]],
  ["ServiceEntry: no short forms of its name", "api-se.bookinfo", A, undefined, "forward"],
  ["ServiceEntry: no kube FQDN of its name", "api-se.bookinfo.svc.cluster.local", A, undefined, "forward"],
  ["ServiceEntry: not its subdomains", "x.api.example.com", A, undefined, "forward"],
  ["ServiceEntry: not a prefix", "api.example", A, undefined, "forward"],
  ["shared host: the client's namespace wins", "shared.example.com", A, "zeta", ["240.0.0.2"]],
  ["shared host: else the first by namespace", "shared.example.com", A, "bookinfo", ["240.0.0.1"]],
  ["shared host: no client namespace", "shared.example.com", A, undefined, ["240.0.0.1"]],
  ["wildcard hosts are not answered", "x.wild.example.com", A, undefined, "forward"],
  ["the literal wildcard is not answered either", "*.wild.example.com", A, undefined, "forward"],
  ["unparsable VIPs are skipped", "badvip.bookinfo", A, undefined, ["10.96.0.99"]],
  ["external names are forwarded", "www.example.org", A, "bookinfo", "forward"],
  ["search-list expansion of an external name is forwarded", "www.example.org.bookinfo.svc.cluster.local", A, "bookinfo", "forward"],
  ["unknown cluster name: forwarded by default", "nope.bookinfo.svc.cluster.local", A, undefined, "forward"],
  ["unknown cluster name: NXDOMAIN when asked", "nope.bookinfo.svc.cluster.local", A, undefined, "nxdomain", { unknownClusterNames: "nxdomain" }],
  ["unknown two-label name is never NXDOMAIN (may be external)", "nope.bookinfo", A, undefined, "forward", { unknownClusterNames: "nxdomain" }],
  ["known name with NXDOMAIN on: still answered", "reviews.bookinfo.svc.cluster.local", A, undefined, ["10.96.0.11"], { unknownClusterNames: "nxdomain" }],
  ["the root", "", A, "bookinfo", "forward"],
  ["the root, dotted", ".", A, "bookinfo", "forward"],
  ["an escaped label never matches", "reviews\\.bookinfo", A, undefined, "forward"],
  ["<ns>.svc alone is not a service", "bookinfo.svc", A, undefined, "forward"],
  ["another cluster domain: short forms expand under it", "reviews.bookinfo.svc", A, undefined, "forward", { clusterDomain: "mesh.internal" }],
  ["another cluster domain: a hostname still answers exactly", "reviews.bookinfo.svc.cluster.local", A, undefined, ["10.96.0.11"], { clusterDomain: "mesh.internal" }],
];

function shown(d: DnsDecision): Expect {
  if (d.kind !== "answer") return d.kind;
  return d.addresses.map(formatIp);
}

describe("DnsTable.lookup", () => {
  const tables = new Map<string, DnsTable>();
  const tableFor = (options: DnsTableOptions = {}) => {
    const key = JSON.stringify(options);
    let t = tables.get(key);
    if (!t) tables.set(key, (t = new DnsTable(services, options)));
    return t;
  };
  for (const [what, name, type, ns, expected, options] of cases) {
    test(what, () => {
      expect(shown(tableFor(options).lookup(name, type, ns))).toEqual(expected);
    });
  }

  test("another cluster domain: its own FQDNs and short forms", () => {
    const t = new DnsTable([svc("db", "data", ["10.0.0.5"], "db.data.svc.mesh.internal")], { clusterDomain: "Mesh.Internal." });
    expect(shown(t.lookup("db.data.svc.mesh.internal", A))).toEqual(["10.0.0.5"]);
    expect(shown(t.lookup("db.data.svc", A))).toEqual(["10.0.0.5"]);
    expect(shown(t.lookup("db", A, "data"))).toEqual(["10.0.0.5"]);
    expect(t.clusterDomain).toBe("mesh.internal");
  });

  test("class other than IN (CHAOS): forwarded", () => {
    expect(tableFor().lookup("reviews.bookinfo", A, undefined, 3)).toEqual({ kind: "forward" });
    expect(shown(tableFor().lookup("reviews.bookinfo", A, undefined, CLASS_IN))).toEqual(["10.96.0.11"]);
  });

  test("decisions are built once: repeated lookups return the same object", () => {
    const t = tableFor();
    expect(t.lookup("reviews.bookinfo", A)).toBe(t.lookup("REVIEWS.bookinfo.svc.cluster.local.", A));
    expect(t.size).toBe(8); // hostnames; the two "shared" entries are one, the wildcard none
  });

  test("hostname of the answer is the service's", () => {
    const d = tableFor().lookup("reviews", A, "other");
    expect(d.kind === "answer" && d.hostname).toBe("reviews.other.svc.cluster.local");
  });

  test("an empty service set forwards everything", () => {
    expect(new DnsTable([]).lookup("reviews.bookinfo.svc.cluster.local", A, "bookinfo")).toEqual({ kind: "forward" });
  });
});
