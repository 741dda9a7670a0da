// The layout rule of ../shared/ARCHITECTURE.md §8 as an ESLint rule: every relative import (and
// re-export, and dynamic import of a literal) is resolved against the importing file and checked
// against the table below, so a wrong import fails CI, not review. Proven by test/lint-rules.test.ts.
// Plugins have a stricter rule of their own in eslint.config.js (the plugin API's barrel only).
import path from "node:path";

const root = path.dirname(new URL(import.meta.url).pathname);

const ROLES = ["src/ztunnel/", "src/waypoint/", "src/controlplane/"];
const SHARED = ["src/hbone/", "src/state/", "src/identity/", "src/xds/", "src/policy/", "src/plugin-api/", "src/net/", "src/util/", "src/telemetry/", "src/runtime/", "src/errors/"];
const under = (p, dirs) => dirs.some((d) => p.startsWith(d) || `${p}/` === d);

/** Each rule: which files it governs, and which targets they may not import (and why). */
export const LAYOUT_RULES = [
  ...ROLES.map((role) => ({
    files: (f) => f.startsWith(role),
    forbids: (t) => under(t, ROLES.filter((r) => r !== role)),
    why: "roles never import each other: move what both need into a shared layer (src/state, src/hbone, src/identity, src/telemetry, …)",
  })),
  {
    files: (f) => under(f, SHARED),
    forbids: (t) => under(t, [...ROLES, "src/cli/"]),
    why: "shared layers never import a role or the CLI",
  },
  {
    files: (f) => f.startsWith("src/") && !under(f, ["src/gen/", "src/xds/", "src/controlplane/"]) && f !== "src/identity/ca-client.ts",
    forbids: (t) => t.startsWith("src/gen/"),
    why: "generated wire types stop at src/xds, the control plane's RPC handlers and the CA client: convert to src/state's domain types there",
  },
  {
    files: (f) => f.startsWith("src/policy/"),
    forbids: (t) => t.startsWith("src/") && !under(t, ["src/policy/", "src/state/", "src/net/", "src/errors/"]),
    why: "src/policy is pure: it may read src/state's types and src/net's addresses, nothing with I/O",
  },
];

export const layoutPlugin = {
  rules: {
    "dependency-direction": {
      meta: { type: "problem", schema: [], messages: { forbidden: "{{file}} may not import {{target}}: {{why}}" } },
      create(context) {
        const file = path.relative(root, context.filename).split(path.sep).join("/");
        const rules = LAYOUT_RULES.filter((r) => r.files(file));
        if (rules.length === 0) return {};
        const check = (node) => {
          const spec = node.source?.type === "Literal" ? node.source.value : undefined;
          if (typeof spec !== "string" || !spec.startsWith(".")) return;
          const target = path.relative(root, path.resolve(path.dirname(context.filename), spec)).split(path.sep).join("/");
          const broken = rules.find((r) => r.forbids(target, file));
          if (broken) context.report({ node: node.source, messageId: "forbidden", data: { file, target, why: broken.why } });
        };
        return { ImportDeclaration: check, ExportNamedDeclaration: check, ExportAllDeclaration: check, ImportExpression: check };
      },
    },
  },
};
