import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parse } from "smol-toml";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { InitError, init } from "./init";
import { parseJsonc } from "./jsonc";

const ROOT = path.resolve(import.meta.dirname, "..");
const FRESH = `name = "my-worker"\nmain = "src/index.ts"\ncompatibility_date = "2026-10-01"\n`;

let dir: string;
let lines: string[];
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "stepflare-init-"));
  // As after `npm install stepflare`: the package's migrations under node_modules.
  mkdirSync(path.join(dir, "node_modules/stepflare/migrations"), { recursive: true });
  writeFileSync(path.join(dir, "node_modules/stepflare/package.json"), "{}");
  lines = [];
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const configFile = () => path.join(dir, "wrangler.toml");
const run = (text: string, options: { print?: boolean } = {}) => {
  writeFileSync(configFile(), text);
  init({ cwd: dir, migrate: false, out: (l) => lines.push(l), ...options });
  return readFileSync(configFile(), "utf8");
};
const bindingsOf = (config: Record<string, unknown>) => {
  const { compatibility_flags, d1_databases, durable_objects, migrations, r2_buckets, queues, triggers } = config;
  return { compatibility_flags, d1_databases, durable_objects, migrations, r2_buckets, queues, triggers };
};

describe("stepflare init", () => {
  it("gives a fresh project the bindings of the repository's wrangler.toml, migrations from node_modules", () => {
    const written = parse(run(FRESH));
    const root = parse(readFileSync(path.join(ROOT, "wrangler.toml"), "utf8"));
    const expected = bindingsOf(root) as { d1_databases: { migrations_dir: string }[] };
    expected.d1_databases[0]!.migrations_dir = "node_modules/stepflare/migrations";
    expect(bindingsOf(written)).toEqual(expected);
    expect(written).toMatchObject({ name: "my-worker", main: "src/index.ts", compatibility_date: "2026-10-01" });
  });

  it("the example app's wrangler.toml holds the same bindings as the top-level one", () => {
    const example = bindingsOf(parse(readFileSync(path.join(ROOT, "examples/app/wrangler.toml"), "utf8"))) as Record<string, any>;
    const root = bindingsOf(parse(readFileSync(path.join(ROOT, "wrangler.toml"), "utf8"))) as Record<string, any>;
    example.d1_databases[0].migrations_dir = root.d1_databases[0].migrations_dir;
    expect(example).toEqual(root);
  });

  it("a second run finds everything there and changes nothing", () => {
    const first = run(FRESH);
    expect(run(first)).toBe(first);
    expect(lines).toContain("wrangler.toml already holds every Stepflare binding");
  });

  it("adds only what is missing, keeping the user's own flags, bindings and comments", () => {
    const text = `${FRESH.replace('compatibility_date = "2026-10-01"\n', 'compatibility_date = "2026-10-01"\ncompatibility_flags = ["nodejs_compat"] # mine\n')}
[[queues.producers]]
binding = "EVENTS"
queue = "stepflare-events"

[[kv_namespaces]]
binding = "CACHE"
id = "abc"
`;
    const written = run(text);
    expect(written.startsWith(text.slice(0, 60))).toBe(true);
    expect(written).toContain("# mine");
    const config = parse(written) as Record<string, any>;
    expect(config.compatibility_flags).toEqual(["queue_consumer_no_wait_for_wait_until", "nodejs_compat"]);
    expect(config.kv_namespaces).toEqual([{ binding: "CACHE", id: "abc" }]);
    expect(config.queues.producers.map((p: { binding: string }) => p.binding)).toEqual(["EVENTS", "STEPS", "FAILURES", "LISTING"]);
  });

  it("keeps the user's database name and id; adds its own migration tag after the project's migrations", () => {
    const text = `${FRESH}
[[d1_databases]]
binding = "DB"
database_name = "prod"
database_id = "1234"
migrations_dir = "node_modules/stepflare/migrations"

[[migrations]]
tag = "v1"
new_sqlite_classes = ["Counter"]
`;
    const config = parse(run(text)) as Record<string, any>;
    expect(config.d1_databases).toEqual([
      { binding: "DB", database_name: "prod", database_id: "1234", migrations_dir: "node_modules/stepflare/migrations" },
    ]);
    expect(config.migrations).toEqual([
      { tag: "v1", new_sqlite_classes: ["Counter"] },
      {
        tag: "stepflare-v1",
        new_sqlite_classes: ["StepflareRun", "StepflareSweeper", "StepflareFlow", "StepflareListing", "StepflareEvents"],
      },
    ]);
  });

  it.each([
    [
      "a Durable Object binding of the same name",
      `[[durable_objects.bindings]]\nname = "RUNS"\nclass_name = "Other"\n`,
      /binding RUNS is class "Other"/,
    ],
    [
      "a queue setting that differs",
      `[[queues.consumers]]\nqueue = "stepflare-steps"\nmax_batch_size = 50\n`,
      /stepflare-steps: max_batch_size = 50 \(Stepflare pins 10\)/,
    ],
    ["a producer to another queue", `[[queues.producers]]\nbinding = "STEPS"\nqueue = "jobs"\n`, /binding STEPS sends to "jobs"/],
    [
      "an R2 binding to another bucket",
      `[[r2_buckets]]\nbinding = "EVENT_BODIES"\nbucket_name = "mine"\n`,
      /binding EVENT_BODIES is bucket "mine"/,
    ],
    [
      "a database with other migrations",
      `[[d1_databases]]\nbinding = "DB"\ndatabase_name = "x"\ndatabase_id = "y"\nmigrations_dir = "db"\n`,
      /binding DB has migrations_dir "db"/,
    ],
    [
      "objects created without SQLite",
      `[[migrations]]\ntag = "v1"\nnew_classes = ["StepflareRun"]\n`,
      /StepflareRun is created with new_classes/,
    ],
  ])("refuses %s, naming it, and writes nothing", (_name, extra, message) => {
    const text = `${FRESH}\n${extra}`;
    expect(() => run(text)).toThrow(InitError);
    expect(() => run(text)).toThrow(message);
    expect(readFileSync(configFile(), "utf8")).toBe(text);
  });

  it("refuses a config it cannot add to without rewriting (an inline array), and writes nothing", () => {
    const text = `name = "w"\nmain = "i.ts"\ncompatibility_date = "2026-10-01"\nd1_databases = []\n`;
    expect(() => run(text)).toThrow(/without rewriting it/);
    expect(readFileSync(configFile(), "utf8")).toBe(text);
  });

  it("--print prints the missing tables and writes nothing", () => {
    expect(run(FRESH, { print: true })).toBe(FRESH);
    const printed = lines.join("\n");
    expect(printed).toContain('[[durable_objects.bindings]]\nname = "SWEEPER"\nclass_name = "StepflareSweeper"');
    expect(printed).toContain('compatibility_flags = ["queue_consumer_no_wait_for_wait_until"]');
  });

  it("edits a wrangler.jsonc in place: the same bindings, comments kept, items joining existing arrays", () => {
    const file = path.join(dir, "wrangler.jsonc");
    const text = `{
  // my worker
  "name": "my-worker",
  "main": "src/index.ts",
  "compatibility_date": "2026-10-01",
  "compatibility_flags": ["nodejs_compat"],
  "queues": { "producers": [{ "binding": "JOBS", "queue": "jobs" }] },
}
`;
    writeFileSync(file, text);
    init({ cwd: dir, migrate: false, out: (l) => lines.push(l) });
    const written = readFileSync(file, "utf8");
    expect(written).toContain("// my worker");
    const config = parseJsonc(written) as Record<string, any>;
    const root = bindingsOf(parse(readFileSync(path.join(ROOT, "wrangler.toml"), "utf8"))) as Record<string, any>;
    root.d1_databases[0].migrations_dir = "node_modules/stepflare/migrations";
    expect(config.compatibility_flags).toEqual(["queue_consumer_no_wait_for_wait_until", "nodejs_compat"]);
    expect(config.queues.producers).toEqual([{ binding: "JOBS", queue: "jobs" }, ...root.queues.producers]);
    expect(config.queues.consumers).toEqual(root.queues.consumers);
    for (const key of ["d1_databases", "durable_objects", "migrations", "r2_buckets", "triggers"]) expect(config[key]).toEqual(root[key]);
    init({ cwd: dir, migrate: false, out: (l) => lines.push(l) });
    expect(readFileSync(file, "utf8")).toBe(written);
  });

  it("adds the engine's every-minute cron beside the user's own crons, in TOML and JSONC", () => {
    const toml = parse(run(`${FRESH}\n[triggers]\ncrons = ["0 3 * * *"] # nightly\n`)) as Record<string, any>;
    expect(toml.triggers.crons).toEqual(["* * * * *", "0 3 * * *"]);
    rmSync(configFile());
    const file = path.join(dir, "wrangler.jsonc");
    writeFileSync(file, `{ "name": "w", "main": "src/index.ts", "triggers": { "crons": ["0 3 * * *"] } }\n`);
    init({ cwd: dir, migrate: false, out: (l) => lines.push(l) });
    expect((parseJsonc(readFileSync(file, "utf8")) as Record<string, any>).triggers.crons).toEqual(["0 3 * * *", "* * * * *"]);
  });

  it("finds the package in a workspace's hoisted node_modules", () => {
    const app = path.join(dir, "apps/worker");
    mkdirSync(app, { recursive: true });
    writeFileSync(path.join(app, "wrangler.toml"), FRESH);
    init({ cwd: app, migrate: false, out: () => {} });
    const config = parse(readFileSync(path.join(app, "wrangler.toml"), "utf8")) as Record<string, any>;
    expect(config.d1_databases[0].migrations_dir).toBe("../../node_modules/stepflare/migrations");
  });

  it("refuses a project where stepflare is not installed, writing nothing", () => {
    rmSync(path.join(dir, "node_modules"), { recursive: true });
    expect(() => run(FRESH)).toThrow(/stepflare is not installed in this project: run npm install stepflare/);
    expect(readFileSync(configFile(), "utf8")).toBe(FRESH);
  });

  it("refuses a folder with no wrangler config, saying what to do", () => {
    expect(() => init({ cwd: dir, migrate: false })).toThrow(/no wrangler config .*npm create cloudflare/);
  });
});
