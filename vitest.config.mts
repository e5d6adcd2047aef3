import { defineConfig } from "vitest/config";

const shared = {
  include: ["test/**/*.test.ts"],
  pool: "forks" as const,
  // isolated-vm needs the first flag on Node >= 20; the threads pool rejects it.
  // The second as the server runs (bin/vmsystem): see src/runtime/sandbox/src/wasm.js.
  execArgv: ["--no-node-snapshot", "--disable-wasm-trap-handler"],
  testTimeout: 30_000,
  hookTimeout: 60_000,
};

/**
 * Every suite runs twice: on the embedded SQLite default and on PostgreSQL
 * (VMSYSTEM_TEST_DATABASE_URL, default the local server; each run gets its
 * own schema). `--project sqlite` or `--project postgres` runs one.
 */
export default defineConfig({
  test: {
    // Suites start their own servers and isolates; two at a time fits 2 cores.
    maxWorkers: 2,
    projects: [
      { test: { ...shared, name: "sqlite", env: { VMSYSTEM_TEST_DB: "sqlite" } } },
      // The runtime suites touch no database: once is enough. So do the shell
      // scripts' and the docs' blocks (clients of the server: the slowest
      // suite, ~100 s on 2 cores), which the other suites' calls cover on both.
      {
        test: {
          ...shared,
          name: "postgres",
          exclude: ["test/runtime/**", "test/scripts.test.ts", "**/node_modules/**"],
          env: { VMSYSTEM_TEST_DB: "postgres" },
        },
      },
    ],
  },
});
