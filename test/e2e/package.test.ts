import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { parse } from "smol-toml";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { StepflareHttp } from "./client";
import { printOutputIfFailed, ROOT, WranglerDev, wranglerEnv } from "./harness";

/**
 * What a user does: pack the package, install the tarball into a new Worker
 * project, run `stepflare init`, write a function importing `stepflare` and
 * `stepflare/engine`, start `wrangler dev`, send an event (from Node, with the
 * installed package's client), see the run complete.
 */

const work = mkdtempSync(path.join(tmpdir(), "stepflare-package-"));
const project = path.join(work, "my-worker");
let dev: WranglerDev | undefined;
let initOutput = "";
let typecheck: Promise<string> | undefined;

async function run(file: string, args: string[], cwd: string): Promise<string> {
  try {
    const { stdout, stderr } = await promisify(execFile)(file, args, {
      cwd,
      env: wranglerEnv(),
      timeout: 120_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout + stderr;
  } catch (e) {
    const err = e as Error & { stdout?: string; stderr?: string };
    throw new Error(`${path.basename(file)} ${args.join(" ")} failed: ${err.message}\n${err.stdout ?? ""}\n${err.stderr ?? ""}`);
  }
}

const WORKER = `import { Stepflare } from "stepflare";
import { createEngine } from "stepflare/engine";

const app = new Stepflare({ id: "my-app" });

const hello = app.createFunction({ id: "hello", triggers: [{ event: "app/hello" }] }, async ({ event, step }) => {
  const greeting: string = await step.run("greet", () => \`hello \${event.data.name}\`);
  const shout = await step.run("shout", () => greeting.toUpperCase());
  return { greeting, shout };
});

const engine = createEngine({ functions: [hello] });
export default engine.worker;
export const { StepflareRun, StepflareSweeper, StepflareFlow, StepflareListing, StepflareEvents } = engine;
`;

// The installed package's client and testing helper, in plain Node.
const NODE_SCRIPT = `import { Stepflare } from "stepflare";
import { runFunction } from "stepflare/testing";

const app = new Stepflare({ id: "my-app", baseUrl: process.argv[2], eventKey: "any-key-in-dev-mode" });
const fn = app.createFunction({ id: "t", triggers: [{ event: "app/t" }] }, async ({ step }) => step.run("a", () => 1));
const tested = await runFunction(fn, { event: { name: "app/t" }, steps: [{ id: "a", handler: () => 41 }] });
const ids = await app.send({ name: "app/hello", data: { name: "node" } });
console.log(JSON.stringify({ tested, ids }));
`;

// As a create-cloudflare project sets it up.
const TSCONFIG = {
  compilerOptions: {
    target: "es2022",
    lib: ["es2022"],
    module: "es2022",
    moduleResolution: "bundler",
    types: ["@cloudflare/workers-types"],
    strict: true,
    noEmit: true,
    skipLibCheck: true,
  },
  include: ["src"],
};

beforeAll(async () => {
  // dist/ as test/build-package.ts built it: a rebuild here could race other tests reading it.
  await run("npm", ["pack", "--pack-destination", work, "--ignore-scripts"], ROOT);
  const tarball = path.join(work, readdirSync(work).find((f) => f.endsWith(".tgz"))!);

  mkdirSync(path.join(project, "src"), { recursive: true });
  writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "my-worker", private: true, type: "module" }, null, 2));
  writeFileSync(path.join(project, "wrangler.toml"), 'name = "my-worker"\nmain = "src/index.ts"\ncompatibility_date = "2026-10-01"\n');
  writeFileSync(path.join(project, "src/index.ts"), WORKER);
  writeFileSync(path.join(project, "send.mjs"), NODE_SCRIPT);
  await run("npm", ["install", tarball, "--prefer-offline", "--no-audit", "--no-fund", "--no-package-lock"], project);
  // The repository's wrangler and Workers types stand in for the project's own dev dependencies, with no download.
  symlinkSync(path.join(ROOT, "node_modules/wrangler"), path.join(project, "node_modules/wrangler"), "dir");
  mkdirSync(path.join(project, "node_modules/@cloudflare"), { recursive: true });
  symlinkSync(
    path.join(ROOT, "node_modules/@cloudflare/workers-types"),
    path.join(project, "node_modules/@cloudflare/workers-types"),
    "dir",
  );
  writeFileSync(path.join(project, "tsconfig.json"), JSON.stringify(TSCONFIG, null, 2));

  // The typecheck needs only the installed files: it runs while `stepflare init` and wrangler dev start.
  typecheck = run(path.join(ROOT, "node_modules/.bin/tsc"), ["-p", "."], project);
  typecheck.catch(() => {}); // awaited (and reported) by its test
  initOutput = await run(path.join(project, "node_modules/.bin/stepflare"), ["init"], project);
  dev = await WranglerDev.start({ config: "wrangler.toml", cwd: project, ownState: true, vars: { STEPFLARE_DEV: "true" } });
}, 240_000);

afterEach((ctx) => printOutputIfFailed(dev, ctx));
afterAll(async () => {
  await dev?.dispose();
  rmSync(work, { recursive: true, force: true });
});

describe("the packed package in a new Worker project", () => {
  it("installs only the built files, the migrations and the package's metadata", () => {
    const installed = path.join(project, "node_modules/stepflare");
    const pkg = JSON.parse(readFileSync(path.join(installed, "package.json"), "utf8"));
    expect(Object.keys(pkg.exports)).toEqual([".", "./engine", "./testing", "./package.json"]);
    expect(pkg.private).toBeUndefined();
    expect(readFileSync(path.join(installed, "migrations/0001_init.sql"), "utf8")).toContain("CREATE TABLE");
  });

  it("typechecks against the installed package's types", async () => {
    await typecheck;
  });

  it("stepflare init wrote the bindings and applied the migrations locally", () => {
    const config = parse(readFileSync(path.join(project, "wrangler.toml"), "utf8")) as Record<string, any>;
    expect(config.d1_databases).toEqual([expect.objectContaining({ binding: "DB", migrations_dir: "node_modules/stepflare/migrations" })]);
    expect(config.durable_objects.bindings.map((b: { name: string }) => b.name)).toEqual([
      "RUNS",
      "SWEEPER",
      "FLOW",
      "RUN_LISTING",
      "EVENT_STORE",
    ]);
    expect(config.r2_buckets).toEqual([{ binding: "EVENT_BODIES", bucket_name: "stepflare-event-bodies" }]);
    expect(initOutput).toMatch(/0001_init\.sql/);
    expect(initOutput).toMatch(/0002_flow\.sql/);
    expect(initOutput).toMatch(/0003_remote\.sql/);
    expect(config.triggers).toEqual({ crons: ["* * * * *"] });
  });

  it("runs the function for an event sent from Node with the installed client; stepflare/testing runs in Node", async () => {
    const out = await run(process.execPath, ["send.mjs", dev!.url], project);
    const { tested, ids } = JSON.parse(out.trim().split("\n").at(-1)!) as { tested: any; ids: string[] };
    expect(tested).toEqual({ output: 41, error: undefined, steps: [{ id: "a", key: "a", status: "completed", output: 41, mocked: true }] });
    expect(ids).toHaveLength(1);

    const http = new StepflareHttp(dev!.url);
    const runs = await http.settledRuns(ids[0]!, 1);
    const [detail] = [...runs.values()];
    expect(detail).toMatchObject({ status: "completed", output: { greeting: "hello node", shout: "HELLO NODE" } });
  });
});
