/**
 * File-system calls per run, on disk: `strace -c` attached to workerd
 * (Miniflare, state under the OS temp directory) while 200 one-step Stepflare
 * runs execute, then while 200 bare SQLite-backed objects each write one row.
 * Not part of `npm run bench`; needs strace:
 *
 *   npm run bench:syscalls -- [--count=200]
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { StepflareDriver } from "./lib/engines.mjs";
import { closeConnections, postJson, sleep } from "./lib/http.mjs";
import { LAUNCHERS, prepare, TMP } from "./lib/runtime.mjs";

const { values: args } = parseArgs({ options: { count: { type: "string" } } });
const count = Number(args.count ?? 200);
const CALLS = ["openat", "fsync", "fdatasync", "pwrite64", "ftruncate", "unlink"];
const { template, bundle } = prepare({ logFile: path.join(TMP, "logs", "syscalls-prepare.log"), persistRoot: os.tmpdir() });
const rt = await LAUNCHERS.miniflare.start({ template, bundle, logFile: path.join(TMP, "logs", "syscalls.log") });

/** Counts the calls workerd makes while `work` runs, per unit of work. */
async function countCalls(label, work) {
  const out = path.join(TMP, `syscalls-${label}.txt`);
  const strace = spawn("strace", ["-f", "-c", "-e", `trace=${CALLS.join(",")}`, "-o", out, "-p", String(rt.runtimePid)], {
    stdio: "ignore",
  });
  await sleep(1000); // attached to every thread
  await work();
  await sleep(500);
  strace.kill("SIGINT");
  await new Promise((resolve) => strace.on("exit", resolve));
  const calls = Object.fromEntries(CALLS.map((c) => [c, 0]));
  for (const line of fs.readFileSync(out, "utf8").split("\n")) {
    const cols = line.trim().split(/\s+/);
    const name = cols.at(-1);
    if (name in calls) calls[name] = Number(cols[3]);
  }
  console.log(`${label.padEnd(28)} ${CALLS.map((c) => `${c} ${(calls[c] / count).toFixed(1)}`).join("  ")}  (per unit, ${count} units)`);
}

try {
  const sf = new StepflareDriver(rt.base);
  const events = (n) => Array.from({ length: n }, () => ({ name: "bench/one-step" }));
  let since = Date.now();
  await sf.send(events(20), { perRequest: 20 }); // warm-up
  await sf.waitRuns(["bench-one-step"], since, 20);
  await countCalls("stepflare one-step run", async () => {
    since = Date.now();
    await sf.send(events(count), { perRequest: 100, concurrency: 2 });
    await sf.waitRuns(["bench-one-step"], since, count);
  });
  await countCalls("bare object, one write", () => postJson(`${rt.base}/bench/probe`, { count }));
} finally {
  await rt.stop();
  closeConnections();
}
