import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { parse } from "smol-toml";
import { type Bindings, stepflareBindings } from "./bindings";
import { applyPlanJsonc, parseJsonc, printPlanJson } from "./jsonc";
import { isEmpty, type Plan, planBindings } from "./plan";
import { applyPlan, printPlan } from "./toml";

export interface InitOptions {
  /** The project's folder. */
  cwd: string;
  /** Its wrangler config; found in `cwd` when not given. */
  config?: string;
  /** Print what would be added instead of writing it. */
  print?: boolean;
  /** Apply the D1 migrations locally after writing (the default). */
  migrate?: boolean;
  out?: (line: string) => void;
}

/** A refusal the user can act on: printed as is, exit code 1. */
export class InitError extends Error {
  override name = "InitError";
}

const CONFIG_NAMES = ["wrangler.toml", "wrangler.jsonc", "wrangler.json"];

/** How one config format is read, added to and printed. */
interface Format {
  parse(text: string): Record<string, unknown>;
  apply(text: string, plan: Plan, config: Record<string, unknown>): string;
  print(plan: Plan): string;
}

const TOML: Format = {
  parse: (text) => parse(text) as Record<string, unknown>,
  apply: (text, plan, config) => applyPlan(text, plan, Array.isArray(config.compatibility_flags)),
  print: printPlan,
};

const JSONC: Format = { parse: parseJsonc, apply: applyPlanJsonc, print: printPlanJson };

/**
 * `stepflare init`: adds what is missing of Stepflare's bindings to the
 * project's wrangler.toml (or wrangler.jsonc, .json), refusing on any
 * conflict, then applies the D1 migrations locally.
 */
export function init(options: InitOptions): void {
  const out = options.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const configPath = options.config
    ? path.resolve(options.cwd, options.config)
    : CONFIG_NAMES.map((n) => path.join(options.cwd, n)).find((p) => existsSync(p));
  if (!configPath || !existsSync(configPath)) {
    throw new InitError(
      `no wrangler config in ${options.config ? path.resolve(options.cwd, options.config) : options.cwd}: create your Worker first (npm create cloudflare@latest), or pass --config <path>`,
    );
  }
  const dir = path.dirname(configPath);
  const want = stepflareBindings(migrationsDir(dir));

  const format = configPath.endsWith(".toml") ? TOML : JSONC;
  const text = readFileSync(configPath, "utf8");
  const config = parseConfig(format, text, configPath);
  const plan = planBindings(config, want);
  if (plan.conflicts.length > 0) {
    throw new InitError(
      `${path.basename(configPath)} already holds bindings Stepflare would need otherwise; nothing was written:\n${plan.conflicts.map((c) => `  - ${c}`).join("\n")}`,
    );
  }
  if (options.print) {
    out(isEmpty(plan) ? `${path.basename(configPath)} already holds every Stepflare binding` : format.print(plan));
    return;
  }
  if (isEmpty(plan)) out(`${path.basename(configPath)} already holds every Stepflare binding`);
  else {
    const next = format.apply(text, plan, config);
    // The edit must parse and hold everything, or the user's file stays as it was.
    let check: ReturnType<typeof planBindings> | undefined;
    try {
      check = planBindings(format.parse(next), want);
    } catch {
      // an edit that no longer parses is refused below
    }
    if (!check || !isEmpty(check) || check.conflicts.length > 0) {
      throw new InitError(
        `could not add the bindings to ${path.basename(configPath)} without rewriting it (is a binding table written inline?); nothing was written. Add these by hand:\n${format.print(plan)}`,
      );
    }
    writeFileSync(configPath, next);
    out(`${path.basename(configPath)}: added ${describe(want, plan)}`);
    out(
      "Your Worker must export StepflareRun, StepflareSweeper, StepflareFlow, StepflareListing and StepflareEvents from createEngine() (see stepflare's docs/package.md).",
    );
  }
  if (options.migrate === false) return out("Next: npx wrangler d1 migrations apply DB --local");
  applyMigrations(dir, configPath, out);
}

function parseConfig(format: Format, text: string, file: string): Record<string, unknown> {
  try {
    return format.parse(text);
  } catch (e) {
    throw new InitError(`${file} does not parse: ${(e as Error).message.split("\n")[0]}`);
  }
}

/**
 * The installed package's migrations, relative to the config: through the
 * nearest `node_modules/stepflare` (a workspace may hoist it), not its real
 * path, which under pnpm names the version. A package only in npx's cache
 * would leave the config pointing there: refused.
 */
function migrationsDir(configDir: string): string {
  for (let dir = configDir; ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, "node_modules", "stepflare");
    if (existsSync(path.join(pkg, "package.json"))) return path.relative(configDir, path.join(pkg, "migrations")).split(path.sep).join("/");
    if (path.dirname(dir) === dir) break;
  }
  throw new InitError("stepflare is not installed in this project: run npm install stepflare first, then npx stepflare init");
}

function describe(want: Bindings, plan: ReturnType<typeof planBindings>): string {
  const parts = [
    plan.addFlag && `compatibility flag ${want.compatibility_flags[0]}`,
    plan.addCron && `Cron Trigger ${JSON.stringify(want.triggers.crons[0])}`,
    plan.d1.length && `D1 ${plan.d1.map((d) => d.binding).join(", ")}`,
    plan.durableObjects.length && `Durable Objects ${plan.durableObjects.map((o) => o.name).join(", ")}`,
    plan.migrations.length && `Durable Object migration ${plan.migrations.map((m) => m.tag).join(", ")}`,
    plan.r2.length && `R2 ${plan.r2.map((b) => b.binding).join(", ")}`,
    plan.producers.length && `queue producers ${plan.producers.map((p) => p.binding).join(", ")}`,
    plan.consumers.length && `${plan.consumers.length} queue consumers`,
  ];
  return parts.filter(Boolean).join("; ");
}

/** `wrangler d1 migrations apply DB --local` with the project's own wrangler, under this Node. */
function applyMigrations(dir: string, configPath: string, out: (line: string) => void): void {
  let bin: string;
  try {
    const require = createRequire(path.join(dir, "package.json"));
    const pkgPath = require.resolve("wrangler/package.json");
    const pkg = JSON.parse(readFileSync(pkgPath, "utf8")) as { bin?: string | Record<string, string> };
    const rel = typeof pkg.bin === "string" ? pkg.bin : pkg.bin?.wrangler;
    if (!rel) throw new Error("no bin");
    bin = path.join(path.dirname(pkgPath), rel);
  } catch {
    throw new InitError(
      "wrangler is not installed in this project (npm install -D wrangler); then run: npx wrangler d1 migrations apply DB --local",
    );
  }
  out("Applying Stepflare's D1 migrations locally: wrangler d1 migrations apply DB --local");
  const result = spawnSync(process.execPath, [bin, "d1", "migrations", "apply", "DB", "--local", "--config", configPath], {
    cwd: dir,
    stdio: "inherit",
    env: { ...process.env, CI: process.env.CI ?? "true" },
  });
  if (result.status !== 0) throw new InitError(`wrangler d1 migrations apply DB --local failed (exit ${result.status ?? result.signal})`);
}
