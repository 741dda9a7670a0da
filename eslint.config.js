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
);
