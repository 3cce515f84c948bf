import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    /** Where harness.ts keeps, per wrangler config, a persistence directory with the D1 migrations applied (this run only). */
    e2eMigrated: string;
  }
}

/** One directory for the run's migrated state templates, removed after the last file. */
export default function setup(project: TestProject): () => void {
  const dir = mkdtempSync(path.join(tmpdir(), "stepflare-e2e-migrated-"));
  project.provide("e2eMigrated", dir);
  return () => rmSync(dir, { recursive: true, force: true });
}
