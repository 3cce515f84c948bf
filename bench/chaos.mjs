/**
 * `npm run chaos`: sends events to the chaos Worker (bench/chaos/) in waves
 * while killing the whole `wrangler dev` process group with SIGKILL and
 * starting it again over the same state, then polls until every run is
 * terminal and reports what was lost, re-run or wrong. See docs/reliability.md.
 *
 *   npm run chaos -- --events=400 --kills=10 --results=bench/.tmp/chaos.md
 *
 * Options: --events=N (400), --kills=N (10), --timeout=S to wait after the
 * last restart (300), --seed=N (kill moments), --results=FILE, --keep (keep
 * the persisted state).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { getJson, pollListing, readDetails, tally } from "./chaos/check.mjs";
import { markdown } from "./chaos/report.mjs";
import { freePort, prepare, ROOT, Runtime, sleep } from "./chaos/runtime.mjs";

const args = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (!m) throw new Error(`unknown argument ${a}`);
    return [m[1], m[2] ?? "true"];
  }),
);
const int = (name, dflt) => {
  const v = args[name] === undefined ? dflt : Number(args[name]);
  if (!Number.isInteger(v) || v < 0) throw new Error(`--${name} must be a whole number`);
  return v;
};
const opts = {
  events: int("events", 400),
  kills: int("kills", 10),
  timeoutMs: int("timeout", 300) * 1000,
  seed: int("seed", Date.now() % 100_000),
  results: args.results,
  keep: args.keep === "true",
};

/** mulberry32: kill moments that a seed reproduces. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = rng(opts.seed);

const stamp = new Date().toISOString().replace(/[:.]/g, "-");
const workDir = path.join(ROOT, "bench/.tmp", `chaos-${stamp}`);
fs.mkdirSync(workDir, { recursive: true });
const logFile = path.join(workDir, "wrangler.log");
const persistDir = fs.mkdtempSync(path.join(os.tmpdir(), "stepflare-chaos-"));
const t0 = Date.now();
const log = (msg) => console.log(`[chaos +${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`);

// Every event a client-chosen id, so one whose send a kill cut can be sent again: ids are idempotent for 24 h.
// Each step sleeps 300-2,000 ms, so a kill a few seconds after a wave lands mid-steps.
const events = Array.from({ length: opts.events }, (_, n) => ({
  id: `chaos-${stamp}-${n}`,
  name: "chaos/tick",
  data: { n, sleepMs: 300 + ((n * 7919) % 1701) },
}));
const accepted = new Set();

let runtime;
const stopOnSignal = (signal) => {
  void runtime?.kill().finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
};
process.once("SIGINT", stopOnSignal);
process.once("SIGTERM", stopOnSignal);

/** Posts `list` in requests of 10 events, 4 at a time; an answered 200 marks its events accepted, anything else leaves them. */
async function send(list) {
  const chunks = [];
  for (let i = 0; i < list.length; i += 10) chunks.push(list.slice(i, i + 10));
  let next = 0;
  const worker = async () => {
    while (next < chunks.length) {
      const chunk = chunks[next++];
      try {
        const res = await fetch(`${runtime.base}/e/chaos-key`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(chunk),
          signal: AbortSignal.timeout(30_000),
        });
        if (res.status === 200) for (const e of chunk) accepted.add(e.id);
        else await res.text();
      } catch {
        // cut by a kill: sent again after the restart
      }
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
}

/** Sends again, up to ten times a second apart, the events of `list` not yet accepted. */
async function resend(list) {
  for (let i = 0; i < 10; i++) {
    const left = list.filter((e) => !accepted.has(e.id));
    if (left.length === 0) return 0;
    log(`re-sending ${left.length} event(s) whose send was cut`);
    await send(left);
    await sleep(1_000);
  }
  return list.filter((e) => !accepted.has(e.id)).length;
}

async function main() {
  log(`seed ${opts.seed}; building the chaos Worker and migrating ${persistDir}`);
  const { bundle, config } = prepare({ workDir, persistDir, logFile });
  runtime = new Runtime({ bundle, config, persistDir, port: await freePort(), logFile });
  await runtime.start();
  log(`wrangler dev serves ${runtime.base}; log: ${path.relative(ROOT, logFile)}`);

  const waves = Math.max(1, opts.kills);
  const kills = [];
  let lastRestartAt = Date.now();
  const killAndRestart = async (kill) => {
    kill.killedAt = Date.now();
    await runtime.kill();
    kills.push(kill);
    log(`kill ${kills.length}: ${kill.moment}, ${kill.atMs} ms into wave ${kill.wave + 1}`);
    await runtime.start();
    lastRestartAt = Date.now();
    log(`restarted in ${lastRestartAt - kill.killedAt} ms`);
  };
  for (let w = 0; w < waves; w++) {
    const wave = events.slice(Math.floor((w * events.length) / waves), Math.floor(((w + 1) * events.length) / waves));
    // Where this wave's kill lands: among its own sends, among the steps after them, or in the recovery from the
    // previous kill (0.5-5 s after that restart, before this wave is sent).
    const draw = random();
    const moment = w >= opts.kills ? "none" : draw < 0.2 ? "during sends" : draw < 0.4 && w > 0 ? "during recovery" : "among steps";
    if (moment === "during recovery") {
      const wait = 500 + Math.floor(random() * 4_500);
      await sleep(wait);
      await killAndRestart({ wave: w, moment, atMs: -wait });
    }
    const waveStart = Date.now();
    const sending = send(wave);
    if (moment === "during sends") await sleep(random() * 1_500);
    if (moment === "among steps") await sending.then(() => sleep(300 + random() * 4_000));
    if (moment === "during sends" || moment === "among steps") {
      const kill = { wave: w, moment, atMs: Date.now() - waveStart };
      await Promise.all([sending, killAndRestart(kill)]);
    } else await sending;
    const unsent = await resend(events.slice(0, Math.floor(((w + 1) * events.length) / waves)));
    if (unsent > 0) log(`${unsent} event(s) were still not accepted after ten re-sends`);
  }

  log(`${accepted.size}/${events.length} events accepted; polling the listing until no run is running (up to ${opts.timeoutMs / 1000} s)`);
  const deadline = lastRestartAt + opts.timeoutMs;
  const { state, listedDoneAt } = await pollListing(runtime.base, events, deadline, log);
  const pollEndedAt = Date.now();
  await readDetails(runtime.base, state);
  const calls = await getJson(`${runtime.base}/chaos/calls`);
  if (calls.status !== 200) throw new Error(`GET /chaos/calls answered ${calls.status}: ${calls.body}`);
  const killTimes = kills.map((k) => k.killedAt);
  const { figures, stuck } = tally(state, calls.body, { lastRestartAt, deadline: Math.min(deadline, pollEndedAt), killTimes });
  Object.assign(figures, { events: events.length, accepted: accepted.size, kills, lastRestartAt, listedDoneAt, totalMs: pollEndedAt - t0 });

  const report = markdown(opts, figures);
  console.log(`\n${report}`);
  if (opts.results) fs.writeFileSync(path.resolve(opts.results), `${report}\n`);
  if (stuck.length > 0) {
    const file = path.join(workDir, "stuck.json");
    fs.writeFileSync(file, JSON.stringify(stuck, null, 2));
    log(`${stuck.length} run(s) missing or not terminal: ${path.relative(ROOT, file)}`);
  }
  return figures.lost === 0 && figures.wrong === 0;
}

let ok = false;
try {
  ok = await main();
} finally {
  await runtime?.kill();
  if (opts.keep) log(`state kept in ${persistDir}`);
  else fs.rmSync(persistDir, { recursive: true, force: true });
}
process.exitCode = ok ? 0 : 1;
