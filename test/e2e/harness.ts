import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, renameSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { inject, type TestContext } from "vitest";

/** The repository root: every config path is resolved from here. */
export const ROOT = path.resolve(import.meta.dirname, "../..");
const BIN = path.join(ROOT, "node_modules/.bin");
const WRANGLER = path.join(BIN, "wrangler");

const READY_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 10_000;

/**
 * The environment every wrangler child gets: the project's Node 22 first on
 * PATH (wrangler's shebang is `env node`, and the system Node is too old),
 * and everything that would phone home or prompt switched off.
 */
export function wranglerEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PATH: `${BIN}${path.delimiter}${process.env.PATH ?? ""}`,
    CI: "true",
    WRANGLER_SEND_METRICS: "false",
    WRANGLER_SEND_ERROR_REPORTS: "false",
    // Wrangler's debug log files would keep every request path (and so event keys) on disk.
    WRANGLER_WRITE_LOGS: "false",
    NO_COLOR: "1",
    FORCE_COLOR: "0",
  };
}

/** Runs a wrangler command to completion; rejects with its output when it fails. */
export async function runWrangler(args: string[], timeoutMs = 120_000): Promise<{ stdout: string; stderr: string }> {
  try {
    return await promisify(execFile)(WRANGLER, args, { cwd: ROOT, env: wranglerEnv(), timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  } catch (e) {
    const err = e as Error & { stdout?: string; stderr?: string };
    throw new Error(`wrangler ${args.join(" ")} failed: ${err.message}\n${err.stdout ?? ""}\n${err.stderr ?? ""}`);
  }
}

/** A port nobody listens on right now, on the loopback interface. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

export interface WranglerDevOptions {
  /** Wrangler config, relative to `cwd`. */
  config: string;
  /** The project wrangler runs in: the repository root unless given. */
  cwd?: string;
  /**
   * Serve the project's own local state (`.wrangler/state`, where
   * `wrangler d1 migrations apply --local` writes) instead of a fresh
   * directory with the migrations applied by the harness.
   */
  ownState?: boolean;
  /** Extra `--var NAME:value` flags. */
  vars?: Record<string, string>;
  /** More Workers in the same process (`-c` each, after `config`): reachable only through service bindings. */
  moreConfigs?: string[];
}

// Every process group still running, so that a test process that ends (or
// is interrupted) leaves no wrangler or workerd behind.
const live = new Set<number>();
const killAll = () => {
  for (const pgid of live) killGroup(pgid, "SIGKILL");
};
process.once("exit", killAll);
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.once(signal, () => {
    killAll();
    process.kill(process.pid, signal); // our listener is gone: the default action follows
  });
}

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const applyMigrations = (config: string, persistTo: string) =>
  runWrangler(["d1", "migrations", "apply", "DB", "--local", "--persist-to", persistTo, "--config", config]);

/**
 * Fills `persistTo` with a state that has the D1 migrations applied. Wrangler
 * applies them once per config in a run (./global-setup.ts gives the place);
 * every later file gets a copy of that state, saving a wrangler start each.
 */
async function migrated(config: string, persistTo: string): Promise<void> {
  const templates = inject("e2eMigrated");
  if (!templates) return void (await applyMigrations(config, persistTo));
  const template = path.join(templates, createHash("sha256").update(path.resolve(ROOT, config)).digest("hex").slice(0, 16));
  if (!existsSync(template)) {
    const fresh = mkdtempSync(`${template}-`);
    await applyMigrations(config, fresh);
    renameSync(fresh, template);
  }
  cpSync(template, persistTo, { recursive: true });
}

/**
 * A real `wrangler dev` process serving one config on 127.0.0.1, with its
 * own persistence directory. Wrangler and the workerd it spawns share one
 * process group, which `stop()` kills whole.
 */
export class WranglerDev {
  readonly persistTo: string;
  #port = 0;
  #child: ChildProcess | undefined;
  #output: string[] = [];
  #starts = 0;

  private constructor(readonly options: WranglerDevOptions) {
    this.persistTo = options.ownState
      ? path.join(options.cwd ?? ROOT, ".wrangler/state")
      : mkdtempSync(path.join(tmpdir(), "stepflare-e2e-"));
  }

  /** Applies the D1 migrations to a fresh directory, then starts `wrangler dev` on a free port. */
  static async start(options: WranglerDevOptions): Promise<WranglerDev> {
    const dev = new WranglerDev(options);
    if (!options.ownState) await migrated(options.config, dev.persistTo);
    dev.#port = await freePort();
    await dev.#spawn();
    return dev;
  }

  get port(): number {
    return this.#port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /** Everything wrangler (and the Worker's console) printed, across restarts. */
  output(): string {
    return this.#output.join("");
  }

  /** The last `lines` lines of the output. */
  tail(lines = 80): string {
    return this.output().split("\n").slice(-lines).join("\n");
  }

  /**
   * Kills the whole process group and waits until it is gone. SIGKILL by
   * default: a crash, with no chance to flush anything.
   */
  async stop(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const child = this.#child;
    if (!child?.pid) return;
    this.#child = undefined;
    const pgid = child.pid;
    killGroup(pgid, signal);
    const deadline = Date.now() + STOP_TIMEOUT_MS;
    while (groupAlive(pgid) && Date.now() < deadline) await sleep(50);
    if (groupAlive(pgid)) {
      killGroup(pgid, "SIGKILL");
      // Bounded: an orphaned zombie (under a PID 1 that does not reap) still counts as "alive".
      const last = Date.now() + STOP_TIMEOUT_MS;
      while (groupAlive(pgid) && Date.now() < last) await sleep(50);
    }
    live.delete(pgid);
  }

  /** Stops, then starts again on the same port and persistence directory. */
  async restart(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    await this.stop(signal);
    await this.#spawn();
  }

  /** Stops and removes the persistence directory. */
  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.persistTo, { recursive: true, force: true });
  }

  async #spawn(): Promise<void> {
    const inspectorPort = await freePort();
    const args = [
      "dev",
      "--config",
      this.options.config,
      ...(this.options.moreConfigs ?? []).flatMap((c) => ["--config", c]),
      "--ip",
      "127.0.0.1",
      "--port",
      String(this.#port),
      "--inspector-port",
      String(inspectorPort),
      "--persist-to",
      this.persistTo,
      "--show-interactive-dev-session=false",
      // `GET /__scheduled?cron=...` runs the Worker's scheduled handler (cron triggers), for tests.
      "--test-scheduled",
      ...Object.entries(this.options.vars ?? {}).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
    ];
    this.#starts += 1;
    this.#output.push(`\n===== wrangler dev start #${this.#starts} (port ${this.#port}) =====\n`);
    const child = spawn(WRANGLER, args, {
      cwd: this.options.cwd ?? ROOT,
      env: wranglerEnv(),
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    if (child.pid) live.add(child.pid);
    this.#child = child;
    child.stdout.setEncoding("utf8").on("data", (s: string) => this.#output.push(s));
    child.stderr.setEncoding("utf8").on("data", (s: string) => this.#output.push(s));
    let exited: string | undefined;
    child.once("exit", (code, signal) => (exited = `exited with ${signal ?? code}`));

    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (exited) throw new Error(`wrangler dev ${exited} before it was ready:\n${this.output()}`);
      try {
        await fetch(`${this.url}/`, { signal: AbortSignal.timeout(5_000) });
        return; // any HTTP answer means the Worker is serving
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await this.stop();
        throw new Error(`wrangler dev did not answer within ${READY_TIMEOUT_MS} ms:\n${this.output()}`);
      }
      await sleep(100);
    }
  }
}

/**
 * For `afterEach`: when the test failed, prints the end of wrangler's output,
 * where the engine's own errors are. (A source file edited while the tests
 * run makes wrangler reload the Worker; that shows up here too.)
 */
export function printOutputIfFailed(dev: WranglerDev | undefined, ctx: TestContext): void {
  if (dev && ctx.task.result?.state === "fail") {
    console.error(`--- wrangler dev output (${dev.options.config}), last lines ---\n${dev.tail()}`);
  }
}
