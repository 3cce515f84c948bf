/**
 * Starting and stopping the bench Worker under each launcher, and reading
 * the memory of its workerd process. Every start gets a fresh persistence
 * directory (a copy of one with the D1 migrations applied), so no scenario
 * inherits another's Durable Objects.
 */
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { sleep } from "./http.mjs";

export const ROOT = path.resolve(import.meta.dirname, "../..");
export const CONFIG = path.join(ROOT, "bench/worker/wrangler.toml");
export const TMP = path.join(ROOT, "bench/.tmp");

/** Environment for every wrangler call: no network lookups, no telemetry, no interactive session. */
const QUIET_ENV = { CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false", CI: "1" };

function npx(args, logFile) {
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  const out = fs.openSync(logFile, "a");
  try {
    execFileSync("npx", args, { cwd: ROOT, stdio: ["ignore", out, out], env: { ...process.env, ...QUIET_ENV } });
  } finally {
    fs.closeSync(out);
  }
}

/**
 * Builds the bench Worker once with wrangler's bundler, so every launcher
 * runs the same bytes even if the sources change while the bench runs, and
 * prepares a persistence directory with the D1 migrations applied. With
 * `profile`, the instrumented entry (bench/worker/profiled.ts) is built.
 */
export function prepare({ logFile, persistRoot = os.tmpdir(), profile = false }) {
  fs.mkdirSync(TMP, { recursive: true });
  const dir = path.join(TMP, profile ? "bundle-profiled" : "bundle");
  fs.rmSync(dir, { recursive: true, force: true });
  const entry = path.join(ROOT, "bench/worker", profile ? "profiled.ts" : "index.ts");
  npx(["wrangler", "deploy", entry, "--dry-run", "--outdir", dir, "--config", CONFIG], logFile);
  const bundle = path.join(dir, path.basename(entry).replace(/\.ts$/, ".js"));
  if (!fs.existsSync(bundle)) throw new Error(`wrangler built no ${bundle}; see ${logFile}`);
  const template = fs.mkdtempSync(path.join(persistRoot, "stepflare-bench-template-"));
  npx(["wrangler", "d1", "migrations", "apply", "DB", "--local", "--persist-to", template, "--config", CONFIG], logFile);
  return { template, bundle };
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** A copy of the migrated template beside it: same filesystem as the user chose with --persist-root. */
function freshPersistDir(template) {
  const dir = fs.mkdtempSync(path.join(path.dirname(template), "stepflare-bench-state-"));
  fs.cpSync(template, dir, { recursive: true });
  return dir;
}

async function waitReady(base, isAlive, timeoutMs = 90_000) {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    if (!isAlive()) throw new Error("the runtime exited before it was ready");
    try {
      const res = await fetch(`${base}/bench/health`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`the runtime was not ready within ${timeoutMs} ms`);
}

// ---- process memory ----------------------------------------------------------

function children(pid) {
  const out = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

function descendants(pid) {
  const all = [];
  const queue = [pid];
  while (queue.length) {
    for (const c of children(queue.shift())) {
      all.push(c);
      queue.push(c);
    }
  }
  return all;
}

const cmdline = (pid) => {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
  } catch {
    return "";
  }
};

/** CPU time (user + system) a process has used, in ms; Linux counts it in 10 ms ticks. */
export function cpuMsOf(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * (1000 / 100);
  } catch {
    return NaN;
  }
}

/** VmRSS and VmHWM of a process, in MiB. */
export function memoryOf(pid) {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    const kib = (key) => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? NaN);
    return { rss: kib("VmRSS") / 1024, hwm: kib("VmHWM") / 1024 };
  } catch {
    return null;
  }
}

/** Samples a process's VmRSS every `everyMs`, keeping the largest seen. */
export function sampleRss(pid, everyMs = 100) {
  let maxRss = 0;
  let samples = 0;
  const take = () => {
    const m = memoryOf(pid);
    if (m) {
      maxRss = Math.max(maxRss, m.rss);
      samples++;
    }
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    stop() {
      clearInterval(timer);
      take();
      return { maxRss, samples };
    },
  };
}

// ---- launchers -----------------------------------------------------------------

/**
 * `wrangler dev` as `npm run dev` runs it, on the prebuilt bundle
 * (`--no-bundle`), with local tracing as configured by `tracing`.
 */
async function startWranglerDev({ template, bundle, tracing, logFile, vars = {} }) {
  const port = await freePort();
  const persistDir = freshPersistDir(template);
  const out = fs.openSync(logFile, "a");
  const env = { ...process.env, ...QUIET_ENV, X_LOCAL_OBSERVABILITY: String(tracing), X_LOCAL_EXPLORER: String(tracing) };
  const child = spawn(
    "npx",
    [
      ...[
        "wrangler",
        "dev",
        bundle,
        "--no-bundle",
        "--config",
        CONFIG,
        "--ip",
        "127.0.0.1",
        "--port",
        String(port),
        "--persist-to",
        persistDir,
      ],
      ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
    ],
    { cwd: ROOT, env, stdio: ["ignore", out, out], detached: true },
  );
  fs.closeSync(out);
  let exited = false;
  child.once("exit", () => (exited = true));
  const base = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (!exited) {
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {}
      for (let i = 0; i < 100 && !exited; i++) await sleep(100);
      if (!exited) {
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {}
      }
    }
    fs.rmSync(persistDir, { recursive: true, force: true });
  };
  try {
    await waitReady(base, () => !exited);
  } catch (e) {
    await stop();
    throw e;
  }
  // Two workerd processes: wrangler's proxy (listening on our port) and the Worker's runtime.
  const workerds = descendants(child.pid).filter((p) => cmdline(p).includes("workerd serve"));
  const runtimePid = workerds.find((p) => !cmdline(p).includes(`:${port} `));
  const proxyPid = workerds.find((p) => p !== runtimePid);
  return { base, runtimePid, proxyPid, stop };
}

/**
 * Miniflare driven directly: one workerd, no proxy in front, tracing off.
 * `tracing` turns on both local tracing options, or those of `{ explorer, observability }`.
 */
async function startMiniflare({ template, bundle, logFile, inspectorPort, tracing = false, vars = {} }) {
  const { explorer, observability } = typeof tracing === "object" ? tracing : { explorer: tracing, observability: tracing };
  const { Miniflare, Log, LogLevel, convertV4MiniflareOptions } = await import("miniflare");
  const { unstable_getMiniflareWorkerOptions } = await import("wrangler");
  const persistDir = freshPersistDir(template);
  const stream = fs.createWriteStream(logFile, { flags: "a" });
  class FileLog extends Log {
    log(message) {
      stream.write(`${message}\n`);
    }
  }
  const { workerOptions } = unstable_getMiniflareWorkerOptions(CONFIG);
  delete workerOptions.modulesRules; // the bundle is one ES module
  Object.assign(workerOptions.bindings, vars);
  const before = new Set(descendants(process.pid));
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      host: "127.0.0.1",
      // Port 0: workerd binds a free port itself (ready answers it). A port found free beforehand can be taken
      // before workerd binds it (an ephemeral port, as every outgoing connection's is): ERR_ADDRESS_IN_USE.
      port: 0,
      ...(inspectorPort ? { inspectorPort } : {}),
      resourcePersistencePath: path.join(persistDir, "v3"),
      resourceTmpPath: path.join(persistDir, "tmp"),
      log: new FileLog(LogLevel.INFO),
      handleStructuredLogs: ({ level, message }) => stream.write(`[${level}] ${message}\n`),
      logRequests: false,
      cf: false,
      enableDevRegistry: false,
      unsafeLocalExplorer: explorer,
      unsafeObservability: observability,
      workers: [{ ...workerOptions, name: "stepflare-bench", modules: true, scriptPath: bundle, rootPath: path.dirname(bundle) }],
    }),
  );
  let disposed = false;
  const url = await mf.ready;
  const base = url.origin;
  await waitReady(base, () => !disposed);
  const runtimePid = descendants(process.pid).find((p) => !before.has(p) && cmdline(p).includes("workerd serve"));
  const stop = async () => {
    if (!disposed) {
      disposed = true;
      await mf.dispose();
    }
    stream.end();
    fs.rmSync(persistDir, { recursive: true, force: true });
  };
  return { base, runtimePid, proxyPid: undefined, stop };
}

/** The launchers the bench can run under, with the settings each figure is reported with. */
export const LAUNCHERS = {
  "wrangler-dev": {
    label: "wrangler dev",
    settings:
      "`npx wrangler dev <bundle> --no-bundle --config bench/worker/wrangler.toml --ip 127.0.0.1 --port <free> --persist-to <fresh dir>`; local tracing on (X_LOCAL_OBSERVABILITY=true X_LOCAL_EXPLORER=true, wrangler's defaults), default log level; requests pass through wrangler's proxy workerd",
    start: (opts) => startWranglerDev({ ...opts, tracing: true }),
  },
  "wrangler-dev-notrace": {
    label: "wrangler dev, tracing off",
    settings: "as wrangler dev, with X_LOCAL_OBSERVABILITY=false X_LOCAL_EXPLORER=false",
    start: (opts) => startWranglerDev({ ...opts, tracing: false }),
  },
  miniflare: {
    label: "Miniflare (direct)",
    settings:
      "`new Miniflare()` from the bench process with wrangler's worker options for bench/worker/wrangler.toml; no proxy Worker; unsafeObservability and unsafeLocalExplorer off; log level INFO to a file",
    start: (opts) => startMiniflare(opts),
  },
};
