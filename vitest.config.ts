import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // Builds dist/ first: code under test imports the package by name.
    globalSetup: ["./test/build-package.ts"],
    projects: [
      {
        // Engine tests: inside workerd, against real Queues, Durable Objects and D1.
        plugins: [
          cloudflareTest(async () => ({
            wrangler: { configPath: "./test/engine-fixture/wrangler.toml" },
            miniflare: { bindings: { TEST_MIGRATIONS: await readD1Migrations(path.join(import.meta.dirname, "migrations")) } },
          })),
        ],
        test: {
          name: "workers",
          include: ["test/engine/**/*.test.ts", "sdk/**/*.test.ts", "src/**/*.test.ts"],
          setupFiles: ["./test/engine/setup.ts"],
          testTimeout: 30_000,
        },
      },
      {
        // In Node: the testing helper (also run in workerd above), the `stepflare` command, and the
        // example's functions through `stepflare/testing` as a user imports it (dist/: build first).
        test: {
          name: "node",
          include: ["sdk/testing/**/*.test.ts", "cli/**/*.test.ts", "examples/**/*.test.ts"],
          environment: "node",
        },
      },
      {
        // End-to-end tests: a real `wrangler dev` process, driven over HTTP.
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          environment: "node",
          globalSetup: ["./test/e2e/global-setup.ts"],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
