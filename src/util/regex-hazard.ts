/**
 * JavaScript regular expressions backtrack: a nested quantifier such as `(a+)+` takes time
 * exponential in the input, so one crafted path or header can stall a waypoint for seconds
 * (measured: `/(a+)+` against 27 characters, 0.75 s on Bun). Envoy runs RE2, which cannot. Until
 * the waypoint has a linear-time engine, such patterns are refused at config time — by the one
 * check here, which both sides run: the control plane on every route regex it accepts (HTTPRoute
 * and GRPCRoute validation, so a route the waypoint's router would refuse — failing its whole
 * config — is refused on write, with its field path), and the plugin API's `readRegExp`.
 *
 * The check finds a quantified group (`*`, `+`, `{n,}`, `{n,m}` with m > 1) whose body itself holds
 * an unbounded quantifier, or an alternation inside a starred group — star height above one, the
 * shape behind nearly every known ReDoS. It is a conservative syntax check: it may refuse a safe
 * pattern (rewrite it without nesting), it does not prove every accepted one linear.
 */

/** Why `source` is refused, or null. */
export function regexHazard(source: string): string | null {
  // Per open group: does its body hold an unbounded quantifier / an alternation?
  const stack: Array<{ quantified: boolean; alternation: boolean }> = [];
  let lastGroup: { quantified: boolean; alternation: boolean } | null = null;
  let i = 0;
  while (i < source.length) {
    const c = source[i] as string;
    if (c === "\\") {
      i += 2;
      lastGroup = null;
      continue;
    }
    if (c === "[") {
      i = classEnd(source, i) + 1;
      lastGroup = null;
      continue;
    }
    if (c === "(") {
      stack.push({ quantified: false, alternation: false });
      i++;
      continue;
    }
    if (c === ")") {
      lastGroup = stack.pop() ?? null;
      i++;
      const q = quantifierAt(source, i);
      if (q.unbounded && lastGroup) {
        if (lastGroup.quantified) return `nested quantifier at offset ${i}: a repeated group that itself repeats (like "(a+)+") can take exponential time; rewrite it without nesting`;
        if (lastGroup.alternation) return `repeated alternation at offset ${i}: a group with "|" that repeats (like "(a|aa)*") can take exponential time; rewrite it without repetition`;
      }
      if (q.unbounded || q.length > 0) markParent(stack, q.unbounded || lastGroup?.quantified === true);
      else if (lastGroup?.quantified) markParent(stack, true);
      i += q.length;
      continue;
    }
    if (c === "|") {
      const top = stack[stack.length - 1];
      if (top) top.alternation = true;
      i++;
      continue;
    }
    const q = quantifierAt(source, i);
    if (q.length > 0) {
      if (q.unbounded) markParent(stack, true);
      i += q.length;
      continue;
    }
    lastGroup = null;
    i++;
  }
  return null;
}

function markParent(stack: Array<{ quantified: boolean }>, unbounded: boolean): void {
  const top = stack[stack.length - 1];
  if (top && unbounded) top.quantified = true;
}

/** The quantifier at `i` (with a lazy/possessive suffix) and whether it repeats more than once. */
function quantifierAt(s: string, i: number): { length: number; unbounded: boolean } {
  const c = s[i];
  const lazy = (n: number) => (s[i + n] === "?" ? n + 1 : n);
  if (c === "*" || c === "+") return { length: lazy(1), unbounded: true };
  if (c === "?") return { length: lazy(1), unbounded: false };
  if (c === "{") {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(s.slice(i));
    if (m) return { length: lazy(m[0].length), unbounded: m[2] !== undefined && (m[3] === "" || Number(m[3]) > 1) };
  }
  return { length: 0, unbounded: false };
}

function classEnd(s: string, open: number): number {
  let i = open + 1;
  if (s[i] === "^") i++;
  if (s[i] === "]") i++;
  while (i < s.length && s[i] !== "]") i += s[i] === "\\" ? 2 : 1;
  return i;
}
