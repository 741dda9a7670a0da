/**
 * L4 authorization as a ztunnel enforces it, Istio's evaluation order: any matching DENY policy
 * denies; otherwise, with no ALLOW policy the connection is allowed; otherwise it is allowed only
 * if an ALLOW policy matches. A policy matches when any of its rules does; a rule matches when one
 * of its `from` entries (or none are given), one of its `to` entries (or none) and every `when`
 * condition match. Pure: policies are compiled once per config (CIDRs parsed, patterns split),
 * then evaluated per connection with no allocation beyond the result.
 */
import { cidrContains, parseCidr, parseIp, type Cidr } from "../net/ip.ts";
import type { AuthorizationRule, AuthorizationView, Condition } from "../state/view.ts";

/** What a ztunnel knows about a connection when it decides. */
export interface ConnectionFacts {
  /** The peer's SPIFFE id without "spiffe://" (Istio's principal form); undefined for plaintext. */
  readonly principal?: string;
  readonly namespace?: string;
  readonly sourceIp: string;
  readonly destinationIp: string;
  readonly destinationPort: number;
}

export interface Decision {
  readonly allowed: boolean;
  /** "<namespace>/<name>" of the policy that decided, when one did. */
  readonly policy?: string;
  readonly reason: "denied by policy" | "allowed by policy" | "no allow policy matched" | "no allow policies" | "no policies";
}

type Matcher = (facts: ConnectionFacts, source: Uint8Array | null, destination: Uint8Array | null) => boolean;

export interface CompiledPolicy {
  readonly name: string;
  readonly action: "allow" | "deny";
  readonly matches: Matcher;
}

/** Istio's string match: exact, "*" (anything present), "prefix*" or "*suffix". */
function stringMatcher(pattern: string): (value: string | undefined) => boolean {
  if (pattern === "*") return (v) => v !== undefined;
  if (pattern.endsWith("*")) {
    const prefix = pattern.slice(0, -1);
    return (v) => v !== undefined && v.startsWith(prefix);
  }
  if (pattern.startsWith("*")) {
    const suffix = pattern.slice(1);
    return (v) => v !== undefined && v.endsWith(suffix);
  }
  return (v) => v === pattern;
}

function anyOf(patterns: readonly string[]): (value: string | undefined) => boolean {
  const ms = patterns.map(stringMatcher);
  return (v) => ms.some((m) => m(v));
}

function cidrs(values: readonly string[]): Cidr[] {
  // Validation refused bad blocks before they were stored; anything unparsable matches nothing.
  return values.flatMap((v) => parseCidr(v) ?? []);
}

const inAny = (blocks: readonly Cidr[], ip: Uint8Array | null) => ip !== null && blocks.some((c) => cidrContains(c, ip));

/** A field that constrains only when it lists something: `values` must match, `notValues` must not. */
function field<T>(values: readonly T[], notValues: readonly T[], match: (set: readonly T[]) => boolean, notMatch: (set: readonly T[]) => boolean): boolean {
  if (values.length > 0 && !match(values)) return false;
  if (notValues.length > 0 && notMatch(notValues)) return false;
  return true;
}

function compileCondition(c: Condition): Matcher {
  switch (c.key) {
    case "source.ip":
    case "destination.ip": {
      const yes = cidrs(c.values);
      const no = cidrs(c.notValues);
      const pick = c.key === "source.ip" ? 1 : 2;
      return (_f, src, dst) => {
        const ip = pick === 1 ? src : dst;
        return field(yes, no, (s) => inAny(s, ip), (s) => inAny(s, ip));
      };
    }
    case "destination.port": {
      const yes = c.values.map(Number);
      const no = c.notValues.map(Number);
      return (f) => field(yes, no, (s) => s.includes(f.destinationPort), (s) => s.includes(f.destinationPort));
    }
    case "source.namespace":
    case "source.principal": {
      const yes = anyOf(c.values);
      const no = anyOf(c.notValues);
      const get = c.key === "source.namespace" ? (f: ConnectionFacts) => f.namespace : (f: ConnectionFacts) => f.principal;
      return (f) => field(c.values, c.notValues, () => yes(get(f)), () => no(get(f)));
    }
    default:
      // Translation keeps only L4 keys; an unknown one can never be satisfied.
      return () => false;
  }
}

function compileRule(rule: AuthorizationRule): Matcher {
  const from = rule.from.map((s) => {
    const principals = anyOf(s.principals);
    const notPrincipals = anyOf(s.notPrincipals);
    const namespaces = anyOf(s.namespaces);
    const notNamespaces = anyOf(s.notNamespaces);
    const blocks = cidrs(s.ipBlocks);
    const notBlocks = cidrs(s.notIpBlocks);
    const matcher: Matcher = (f, src) =>
      field(s.principals, s.notPrincipals, () => principals(f.principal), () => notPrincipals(f.principal)) &&
      field(s.namespaces, s.notNamespaces, () => namespaces(f.namespace), () => notNamespaces(f.namespace)) &&
      field(blocks, notBlocks, (b) => inAny(b, src), (b) => inAny(b, src));
    return matcher;
  });
  const to = rule.to.map((d) => {
    const matcher: Matcher = (f) => field(d.ports, d.notPorts, (p) => p.includes(f.destinationPort), (p) => p.includes(f.destinationPort));
    return matcher;
  });
  const when = rule.when.map(compileCondition);
  return (f, src, dst) =>
    (from.length === 0 || from.some((m) => m(f, src, dst))) && (to.length === 0 || to.some((m) => m(f, src, dst))) && when.every((m) => m(f, src, dst));
}

export function compilePolicy(view: AuthorizationView): CompiledPolicy {
  const rules = view.rules.map(compileRule);
  return { name: `${view.namespace}/${view.name}`, action: view.action, matches: (f, src, dst) => rules.some((r) => r(f, src, dst)) };
}

export function authorize(facts: ConnectionFacts, policies: readonly CompiledPolicy[]): Decision {
  if (policies.length === 0) return { allowed: true, reason: "no policies" };
  const src = parseIp(facts.sourceIp);
  const dst = parseIp(facts.destinationIp);
  for (const p of policies) if (p.action === "deny" && p.matches(facts, src, dst)) return { allowed: false, policy: p.name, reason: "denied by policy" };
  let anyAllow = false;
  for (const p of policies) {
    if (p.action !== "allow") continue;
    anyAllow = true;
    if (p.matches(facts, src, dst)) return { allowed: true, policy: p.name, reason: "allowed by policy" };
  }
  return anyAllow ? { allowed: false, reason: "no allow policy matched" } : { allowed: true, reason: "no allow policies" };
}
