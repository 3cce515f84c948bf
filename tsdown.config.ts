import { defineConfig } from "tsdown";

// The published package: ESM with .d.ts, one file per public entry and shared
// chunks between them, so `stepflare` and `stepflare/engine` share one copy of
// the SDK's classes. Dependencies (hono, zod) stay external; `cloudflare:*`
// modules are the Workers runtime's own.
export default defineConfig([
  {
    entry: { index: "sdk/index.ts", engine: "src/index.ts", testing: "sdk/testing/index.ts" },
    platform: "neutral",
    target: "es2022",
    dts: true,
    tsconfig: "tsconfig.build.json",
    deps: { neverBundle: [/^cloudflare:/] },
    outDir: "dist",
    report: false,
    // The .d.ts pass takes most of the build by design; its timing notice is noise (and a warning fails CI builds).
    inputOptions: { checks: { bundlerTimings: false } },
  },
  {
    // `npx stepflare init`: plain Node, no types.
    entry: { cli: "cli/main.ts" },
    platform: "node",
    target: "node20",
    dts: false,
    tsconfig: "cli/tsconfig.json",
    outDir: "dist",
    clean: false,
    report: false,
  },
]);
