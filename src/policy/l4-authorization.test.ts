import { describe, expect, test } from "bun:test";
import type { AuthorizationRule, AuthorizationView, DestinationMatch, SourceMatch } from "../state/view.ts";
import { authorize, compilePolicy, type ConnectionFacts, type Decision } from "./l4-authorization.ts";

const src = (m: Partial<SourceMatch>): SourceMatch => ({ principals: [], notPrincipals: [], namespaces: [], notNamespaces: [], ipBlocks: [], notIpBlocks: [], ...m });
const dst = (m: Partial<DestinationMatch>): DestinationMatch => ({ ports: [], notPorts: [], ...m });
const rule = (r: Partial<AuthorizationRule>): AuthorizationRule => ({ from: [], to: [], when: [], ...r });
const policy = (name: string, action: "allow" | "deny", rules: AuthorizationRule[]): AuthorizationView => ({ name, namespace: "bookinfo", scope: "workload", action, rules });

const sleep: ConnectionFacts = { principal: "cluster.local/ns/bookinfo/sa/sleep", namespace: "bookinfo", sourceIp: "10.0.1.10", destinationIp: "10.0.2.10", destinationPort: 9080 };
const notsleep: ConnectionFacts = { ...sleep, principal: "cluster.local/ns/bookinfo/sa/notsleep", sourceIp: "10.0.1.11" };
const plaintext: ConnectionFacts = { sourceIp: "192.168.1.5", destinationIp: "10.0.2.10", destinationPort: 9080 };

const viewer = policy("productpage-viewer", "allow", [rule({ from: [src({ principals: ["cluster.local/ns/bookinfo/sa/sleep"] })] })]);

describe("L4 authorization (Istio's order: DENY, then no ALLOW → allow, then any ALLOW)", () => {
  const cases: Array<[string, ConnectionFacts, AuthorizationView[], boolean, Decision["reason"]]> = [
    ["no policies: allowed", sleep, [], true, "no policies"],
    ["the seed article: sleep may reach productpage", sleep, [viewer], true, "allowed by policy"],
    ["the seed article: notsleep is refused", notsleep, [viewer], false, "no allow policy matched"],
    ["plaintext has no principal: refused by a principal rule", plaintext, [viewer], false, "no allow policy matched"],
    ["a DENY match wins over an ALLOW match", sleep, [viewer, policy("deny-sleep", "deny", [rule({ from: [src({ principals: ["*/sa/sleep"] })] })])], false, "denied by policy"],
    ["only DENY policies, none matching: allowed", sleep, [policy("d", "deny", [rule({ from: [src({ namespaces: ["evil"] })] })])], true, "no allow policies"],
    ["ALLOW with no rules allows nothing", sleep, [policy("deny-all", "allow", [])], false, "no allow policy matched"],
    ["ALLOW with an empty rule allows everything", plaintext, [policy("allow-all", "allow", [rule({})])], true, "allowed by policy"],
    ["principal '*' needs an identity", plaintext, [policy("authn", "allow", [rule({ from: [src({ principals: ["*"] })] })])], false, "no allow policy matched"],
    ["principal '*' accepts any identity", notsleep, [policy("authn", "allow", [rule({ from: [src({ principals: ["*"] })] })])], true, "allowed by policy"],
    ["prefix and suffix wildcards", notsleep, [policy("p", "allow", [rule({ from: [src({ principals: ["cluster.local/ns/bookinfo/*"] })] })])], true, "allowed by policy"],
    ["notPrincipals excludes", sleep, [policy("p", "allow", [rule({ from: [src({ notPrincipals: ["*/sa/sleep"] })] })])], false, "no allow policy matched"],
    ["namespaces", notsleep, [policy("p", "allow", [rule({ from: [src({ namespaces: ["bookinfo"] })] })])], true, "allowed by policy"],
    ["ipBlocks contain the source", plaintext, [policy("p", "allow", [rule({ from: [src({ ipBlocks: ["192.168.0.0/16"] })] })])], true, "allowed by policy"],
    ["notIpBlocks exclude the source", plaintext, [policy("p", "allow", [rule({ from: [src({ notIpBlocks: ["192.168.1.0/24"] })] })])], false, "no allow policy matched"],
    ["ports must match", sleep, [policy("p", "allow", [rule({ to: [dst({ ports: [8080] })] })])], false, "no allow policy matched"],
    ["notPorts", sleep, [policy("p", "deny", [rule({ to: [dst({ notPorts: [9080] })] })])], true, "no allow policies"],
    ["from AND to: both must match", sleep, [policy("p", "allow", [rule({ from: [src({ namespaces: ["bookinfo"] })], to: [dst({ ports: [1] })] })])], false, "no allow policy matched"],
    ["from entries are ORed", notsleep, [policy("p", "allow", [rule({ from: [src({ namespaces: ["x"] }), src({ principals: ["*/notsleep"] })] })])], true, "allowed by policy"],
    ["rules are ORed", notsleep, [policy("p", "allow", [rule({ to: [dst({ ports: [1] })] }), rule({ to: [dst({ ports: [9080] })] })])], true, "allowed by policy"],
    ["when: every condition must hold", sleep, [policy("p", "allow", [rule({ when: [{ key: "source.ip", values: ["10.0.1.0/24"], notValues: [] }, { key: "destination.port", values: ["9080"], notValues: [] }] })])], true, "allowed by policy"],
    ["when: a failing condition", sleep, [policy("p", "allow", [rule({ when: [{ key: "destination.ip", values: ["10.9.0.0/16"], notValues: [] }] })])], false, "no allow policy matched"],
    ["when: notValues", sleep, [policy("p", "allow", [rule({ when: [{ key: "source.namespace", values: [], notValues: ["bookinfo"] }] })])], false, "no allow policy matched"],
    ["when: source.principal", sleep, [policy("p", "allow", [rule({ when: [{ key: "source.principal", values: ["*/sa/sleep"], notValues: [] }] })])], true, "allowed by policy"],
    ["when: an unknown key never holds", sleep, [policy("p", "allow", [rule({ when: [{ key: "request.headers[x]", values: ["a"], notValues: [] }] })])], false, "no allow policy matched"],
    ["IPv4-mapped source matches an IPv4 block", { ...plaintext, sourceIp: "::ffff:192.168.1.5" }, [policy("p", "allow", [rule({ from: [src({ ipBlocks: ["192.168.1.0/24"] })] })])], true, "allowed by policy"],
  ];
  for (const [name, facts, views, allowed, reason] of cases) {
    test(name, () => {
      const d = authorize(facts, views.map(compilePolicy));
      expect([d.allowed, d.reason]).toEqual([allowed, reason]);
    });
  }
  test("the deciding policy is named", () => {
    expect(authorize(sleep, [viewer].map(compilePolicy)).policy).toBe("bookinfo/productpage-viewer");
  });
});
