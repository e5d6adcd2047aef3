// ESLint (flat config) with typescript-eslint's type-aware rules: the ones
// that catch promises nobody awaits or handles, which in a server that runs
// user code means an unhandled rejection or a lost failure.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["gen/**", "dist/**", "node_modules/**", "examples/**", "coverage/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ["*.mjs", "*.mts"] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // TypeScript checks names (the sandbox's JavaScript too, through checkJs).
      "no-undef": "off",
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/await-thenable": "error",
      "@typescript-eslint/require-await": "off",
      "no-empty": ["error", { allowEmptyCatch: true }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none", ignoreRestSiblings: true }],
    },
  },
  {
    files: ["**/*.mjs", "**/*.js"],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // The sandbox's sources are scripts joined into one function: a top-level
    // name is used by the files after it, which no single file shows.
    files: ["src/runtime/sandbox/src/**/*.js"],
    languageOptions: { sourceType: "script" },
    rules: {
      // TypeScript (checkJs) already refuses a name declared twice across the joined files.
      "no-redeclare": "off",
      "@typescript-eslint/no-unused-vars": ["error", { vars: "local", argsIgnorePattern: "^_", caughtErrors: "none" }],
    },
  },
  {
    // Declarations of what the host hands the sandbox, and util.inspect's
    // stand-in classes: both are about arbitrary functions on purpose.
    files: ["src/runtime/sandbox/src/host.d.ts", "src/runtime/inspect-tree.ts"],
    rules: { "@typescript-eslint/no-unsafe-function-type": "off", "@typescript-eslint/no-explicit-any": "off" },
  },
  {
    files: ["scripts/**/*.js"],
    languageOptions: {
      sourceType: "commonjs",
      globals: { require: "readonly", module: "writable", __dirname: "readonly", process: "readonly", console: "readonly" },
    },
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
);
