// Lint rules for mesh. Two rules shape the architecture: runtime-specific APIs (the Bun and Deno
// globals, bun:* modules) are allowed only in src/runtime/, so the core runs on both; and imports
// follow the layout's dependency direction (eslint-layout.js).
import tseslint from "typescript-eslint";
import { layoutPlugin } from "./eslint-layout.js";

const runtimeBan = {
  "no-restricted-globals": [
    "error",
    { name: "Bun", message: "Bun APIs belong in src/runtime/ behind the RuntimePort." },
    { name: "Deno", message: "Deno APIs belong in src/runtime/ behind the RuntimePort." },
  ],
  "no-restricted-syntax": [
    "error",
    {
      selector: "MemberExpression[property.name=/^(Bun|Deno)$/]",
      message: "Runtime globals belong in src/runtime/ behind the RuntimePort.",
    },
  ],
};

const bunModuleBan = (allowTestRunner) => ({
  "no-restricted-imports": [
    "error",
    {
      patterns: [
        {
          regex: allowTestRunner ? "^bun:(?!test$)" : "^bun:",
          message: "bun:* modules belong in src/runtime/ behind the RuntimePort.",
        },
      ],
    },
  ],
});

// Plugins see the plugin API's barrel and nothing else of mesh (ARCHITECTURE.md §8): no deep
// imports, no other src/ module, no other plugin, no package (not even node:* or bun:*). Files of
// one plugin import each other with "./". Plugin tests may also import the bun:test runner.
const pluginImports = (allowTestRunner) => ({
  "no-restricted-imports": [
    "error",
    {
      patterns: [
        {
          regex: "^(?:\\.\\./)+(?!\\.\\./)(?!src/plugin-api/index\\.ts$)",
          message: "A plugin imports only the plugin API (../../src/plugin-api/index.ts) and its own files (./).",
        },
        {
          regex: allowTestRunner ? "^(?!\\.{1,2}/)(?!bun:test$)" : "^(?!\\.{1,2}/)",
          message: "A plugin imports no packages: what it may use comes through the plugin API (../../src/plugin-api/index.ts).",
        },
      ],
    },
  ],
});

export default tseslint.config(
  { ignores: ["node_modules/", "dist/", "src/gen/", "bench/results/"] },
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
      "no-console": "off",
      eqeqeq: ["error", "always"],
    },
  },
  { files: ["**/*.ts"], ignores: ["src/runtime/**"], rules: { ...runtimeBan, ...bunModuleBan(false) } },
  { files: ["src/**/*.ts", "plugins/**/*.ts"], plugins: { layout: layoutPlugin }, rules: { "layout/dependency-direction": "error" } },
  // Tests and contract suites are run by `bun test`, so they may import its runner; nothing else from bun:*.
  { files: ["**/*.test.ts", "**/contract.ts"], ignores: ["src/runtime/**"], rules: bunModuleBan(true) },
  // Replaces the bun:* ban for plugins (one no-restricted-imports setting per file wins): stricter.
  { files: ["plugins/**/*.ts"], rules: pluginImports(false) },
  { files: ["plugins/**/*.test.ts"], rules: pluginImports(true) },
);
