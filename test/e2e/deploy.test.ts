import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runWrangler } from "./harness";

const outdir = mkdtempSync(path.join(tmpdir(), "stepflare-deploy-"));

afterAll(() => rmSync(outdir, { recursive: true, force: true }));

describe("wrangler deploy --dry-run", () => {
  it("bundles the example app by package name (stepflare, stepflare/engine) without touching the network", async () => {
    const { stdout, stderr } = await runWrangler(
      ["deploy", "--dry-run", "--outdir", outdir, "--config", "examples/app/wrangler.toml"],
      180_000,
    );
    const output = stdout + stderr;
    expect(output).toMatch(/--dry-run: exiting now/);
    for (const binding of [
      "env.RUNS (StepflareRun)",
      "env.SWEEPER (StepflareSweeper)",
      "env.FLOW (StepflareFlow)",
      "env.RUN_LISTING (StepflareListing)",
      "env.EVENT_STORE (StepflareEvents)",
      "env.EVENTS (stepflare-events)",
      "env.EVENT_BODIES (stepflare-event-bodies)",
      "env.DB (stepflare)",
    ]) {
      expect(output).toContain(binding);
    }
    const files = readdirSync(outdir);
    expect(files).toContain("worker.js");
    const bundle = readFileSync(path.join(outdir, "worker.js"), "utf8");
    // The Durable Object classes are exported under the names its wrangler.toml binds.
    expect(bundle).toMatch(/export\s*\{[^}]*\bStepflareRun\b/);
    expect(bundle).toMatch(/export\s*\{[^}]*\bStepflareSweeper\b/);
    expect(bundle).toMatch(/export\s*\{[^}]*\bStepflareFlow\b/);
    expect(bundle).toMatch(/export\s*\{[^}]*\bStepflareListing\b/);
    expect(bundle).toMatch(/export\s*\{[^}]*\bStepflareEvents\b/);
  }, 180_000);
});
