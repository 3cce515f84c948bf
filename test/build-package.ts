import { execFileSync } from "node:child_process";
import path from "node:path";

const ROOT = path.resolve(import.meta.dirname, "..");
const BIN = path.join(ROOT, "node_modules/.bin");

/**
 * Builds the package (dist/) once before any test file runs, in every
 * project: the e2e workers, the example's tests and the package test import
 * `stepflare`, `stepflare/engine` and `stepflare/testing` by name, which
 * resolves through package.json's exports to dist/. Once, here, so no test
 * reads dist/ while another rebuilds it.
 */
export default function setup(): void {
  // scripts/test.mjs builds once before its two Vitest runs start.
  if (process.env.STEPFLARE_DIST_BUILT === "1") return;
  try {
    execFileSync(path.join(BIN, "tsdown"), [], {
      cwd: ROOT,
      stdio: "pipe",
      env: { ...process.env, PATH: `${BIN}${path.delimiter}${process.env.PATH ?? ""}` },
    });
  } catch (e) {
    const err = e as Error & { stdout?: Buffer; stderr?: Buffer };
    throw new Error(`building the package failed:\n${err.stdout ?? ""}${err.stderr ?? ""}`);
  }
}
