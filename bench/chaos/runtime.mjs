/**
 * The chaos Worker's runtime: `wrangler dev` on a prebuilt bundle, in a
 * process group of its own, killed whole with SIGKILL and started again
 * over the same persisted state.
 */
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { freePort } from "../lib/runtime.mjs";

export const ROOT = path.resolve(import.meta.dirname, "../..");
const BIN = path.join(ROOT, "node_modules/.bin");
const WRANGLER = path.join(BIN, "wrangler");
export const CONFIG = path.join(ROOT, "bench/chaos/wrangler.toml");

const READY_TIMEOUT_MS = 120_000;
const GONE_TIMEOUT_MS = 10_000;

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The project's Node 22 first on PATH (wrangler's shebang is `env node`), and nothing that phones home or prompts. */
const ENV = {
  ...process.env,
  PATH: `${BIN}${path.delimiter}${process.env.PATH ?? ""}`,
  CI: "true",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  WRANGLER_SEND_METRICS: "false",
  WRANGLER_SEND_ERROR_REPORTS: "false",
  WRANGLER_WRITE_LOGS: "false",
  NO_COLOR: "1",
  FORCE_COLOR: "0",
};

function wrangler(args, logFile) {
  const out = fs.openSync(logFile, "a");
  try {
    execFileSync(WRANGLER, args, { cwd: ROOT, stdio: ["ignore", out, out], env: ENV, timeout: 180_000 });
  } finally {
    fs.closeSync(out);
  }
}

/**
 * Bundles the Worker once and copies its config beside the bundle, so an
 * edit to src/ or to the config while the chaos runs changes nothing (wrangler
 * dev reloads on a change to either), and applies the D1 migrations to a fresh
 * persistence directory.
 */
export function prepare({ workDir, persistDir, logFile }) {
  const outDir = path.join(workDir, "bundle");
  wrangler(["deploy", "--dry-run", "--outdir", outDir, "--config", CONFIG], logFile);
  const bundle = path.join(outDir, "worker.js");
  if (!fs.existsSync(bundle)) throw new Error(`wrangler built no ${bundle}; see ${logFile}`);
  const config = path.join(workDir, "wrangler.toml");
  const migrations = JSON.stringify(path.join(ROOT, "migrations"));
  fs.writeFileSync(config, fs.readFileSync(CONFIG, "utf8").replace(/^migrations_dir = .*$/m, `migrations_dir = ${migrations}`));
  wrangler(["d1", "migrations", "apply", "DB", "--local", "--persist-to", persistDir, "--config", config], logFile);
  return { bundle, config };
}

function groupAlive(pgid) {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** One `wrangler dev` over `persistDir` on `port`, restartable. */
export class Runtime {
  #pgid;
  #starts = 0;

  constructor({ bundle, config, persistDir, port, logFile }) {
    Object.assign(this, { bundle, config, persistDir, port, logFile });
    this.base = `http://127.0.0.1:${port}`;
  }

  /** Starts wrangler dev and answers once the Worker serves a request. */
  async start() {
    const inspectorPort = await freePort();
    this.#starts++;
    fs.appendFileSync(this.logFile, `\n===== wrangler dev start #${this.#starts} at ${new Date().toISOString()} =====\n`);
    const out = fs.openSync(this.logFile, "a");
    const child = spawn(
      WRANGLER,
      [
        "dev",
        this.bundle,
        "--no-bundle",
        "--config",
        this.config,
        "--ip",
        "127.0.0.1",
        "--port",
        String(this.port),
        "--inspector-port",
        String(inspectorPort),
        "--persist-to",
        this.persistDir,
        "--show-interactive-dev-session=false",
      ],
      { cwd: ROOT, env: ENV, detached: true, stdio: ["ignore", out, out] },
    );
    fs.closeSync(out);
    this.#pgid = child.pid;
    let exited;
    child.once("exit", (code, signal) => (exited = signal ?? code));
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (exited !== undefined) throw new Error(`wrangler dev exited (${exited}) before it was ready; see ${this.logFile}`);
      try {
        const res = await fetch(`${this.base}/chaos/health`, { signal: AbortSignal.timeout(5_000) });
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      await sleep(200);
    }
    await this.kill();
    throw new Error(`wrangler dev did not answer within ${READY_TIMEOUT_MS} ms; see ${this.logFile}`);
  }

  /** SIGKILL to the whole process group (wrangler and its workerd), then waits until it is gone. */
  async kill() {
    const pgid = this.#pgid;
    if (!pgid) return;
    this.#pgid = undefined;
    try {
      process.kill(-pgid, "SIGKILL");
    } catch {
      return;
    }
    const deadline = Date.now() + GONE_TIMEOUT_MS;
    while (groupAlive(pgid) && Date.now() < deadline) await sleep(50);
  }
}
