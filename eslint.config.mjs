// Lint configuration. Type-aware rules (floating promises, no `any`) run on every .ts file; a
// small local rule enforces the module boundaries of STYLE.md rule 12.
import path from "node:path";
import js from "@eslint/js";
import tseslint from "typescript-eslint";

const projectRoot = path.dirname(new URL(import.meta.url).pathname);

/**
 * The allowed dependency edges between top-level modules under pkg/ (and shard-service/).
 * A module not listed as a key may import only pkg/common. Dependencies point one way:
 * raft <- raftnode <- etcdserver; pps depends on pfs, never the reverse.
 */
const allowedModuleImports = {
  common: [],
  proto: ["common"],
  raft: ["common"],
  raftnode: ["common", "raft", "proto"],
  etcdserver: ["common", "raft", "raftnode", "proto"],
  client: ["common", "proto"],
  pfs: ["common", "proto", "client"],
  pps: ["common", "proto", "client", "pfs"],
  "shard-service": ["common", "proto", "client", "pfs"],
};

/** Returns the module name ("raft", "shard-service", …) of an absolute file path, or null. */
function moduleOf(file) {
  const relative = path.relative(projectRoot, file).split(path.sep);
  if (relative[0] === "pkg" && relative.length > 2) return relative[1];
  if (relative[0] === "shard-service") return "shard-service";
  return null;
}

const boundariesRule = {
  meta: {
    type: "problem",
    docs: { description: "module boundaries: index-only imports, one-way dependencies" },
    schema: [],
  },
  create(context) {
    const source = context.filename;
    const sourceModule = moduleOf(source);
    return {
      ImportDeclaration(node) {
        const specifier = node.source.value;
        if (typeof specifier !== "string" || !specifier.startsWith(".")) return;
        const target = path.resolve(path.dirname(source), specifier);
        const targetModule = moduleOf(target);
        if (targetModule === null || targetModule === sourceModule) return;
        const targetRelative = path.relative(projectRoot, target).split(path.sep);
        const moduleDepth = targetModule === "shard-service" ? 1 : 2;
        const inside = targetRelative.slice(moduleDepth);
        if (!(inside.length === 1 && inside[0] === "index.js")) {
          context.report({
            node,
            message: `deep import of '${specifier}': import module '${targetModule}' through its index.js`,
          });
        }
        if (sourceModule !== null) {
          const allowed = allowedModuleImports[sourceModule] ?? ["common"];
          if (!allowed.includes(targetModule)) {
            context.report({
              node,
              message: `module '${sourceModule}' may not depend on '${targetModule}'`,
            });
          }
        }
      },
    };
  },
};

const pureCoreRestrictions = {
  "no-restricted-imports": [
    "error",
    { patterns: [{ group: ["node:*", "fs", "net", "os", "child_process", "timers"], message: "pkg/raft is pure: no I/O imports" }] },
  ],
  "no-restricted-globals": [
    "error",
    { name: "setTimeout", message: "pkg/raft is pure: time is tick()" },
    { name: "setInterval", message: "pkg/raft is pure: time is tick()" },
    { name: "setImmediate", message: "pkg/raft is pure: time is tick()" },
    { name: "Date", message: "pkg/raft is pure: time is tick()" },
    { name: "process", message: "pkg/raft is pure: no process access" },
    { name: "performance", message: "pkg/raft is pure: time is tick()" },
  ],
};

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "pkg/proto/generated/**", "**/*.mjs", "**/*.cjs", "**/*.js"] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: projectRoot },
    },
    plugins: { pfs: { rules: { boundaries: boundariesRule } } },
    rules: {
      "pfs/boundaries": "error",
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/restrict-template-expressions": [
        "error",
        { allowNumber: true, allowBoolean: true, allowNullish: true, allow: [{ from: "lib", name: "bigint" }] },
      ],
      "@typescript-eslint/no-unnecessary-condition": ["error", { allowConstantLoopConditions: true }],
      "@typescript-eslint/no-extraneous-class": "off",
      "@typescript-eslint/consistent-type-imports": "error",
      "no-restricted-properties": [
        "error",
        { object: "Math", property: "random", message: "use the seeded PRNG in pkg/common/prng" },
        { object: "test", property: "only", message: "no focused tests" },
        { object: "test", property: "skip", message: "no skipped tests" },
      ],
      eqeqeq: ["error", "always"],
      "max-len": ["error", { code: 100, ignoreUrls: true, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true }],
    },
  },
  {
    files: ["pkg/**/*.ts", "shard-service/**/*.ts"],
    rules: { "@typescript-eslint/no-non-null-assertion": "error" },
  },
  {
    // STYLE rule 17: control flow stays small enough to read in one screen.
    files: ["pkg/**/*.ts", "shard-service/**/*.ts", "cmd/**/*.ts"],
    rules: {
      "max-lines-per-function": ["error", { max: 70, skipBlankLines: true, skipComments: true }],
    },
  },
  {
    files: ["pkg/common/prng.ts"],
    rules: { "no-restricted-properties": "off" },
  },
  {
    files: ["pkg/raft/**/*.ts"],
    rules: pureCoreRestrictions,
  },
  {
    files: ["test/**/*.ts", "scripts/**/*.ts"],
    rules: {
      "@typescript-eslint/no-non-null-assertion": "off",
      "max-len": "off",
    },
  },
);
