#!/usr/bin/env node
/**
 * `npm run bench`: measures Stepflare against Cloudflare Workflows and a
 * no-durability floor, locally, under each launcher, and writes the figures
 * into bench/RESULTS.md (between its generated-section markers) and
 * bench/.tmp/results-<time>.json. See bench/README.md.
 *
 *   npm run bench                                   # wrangler dev, then Miniflare
 *   npm run bench -- --launchers=miniflare --quick  # a fast smoke run
 *   npm run bench -- --launchers=miniflare --only=flow --flow-variants=none,concurrency,concurrency1000
 *   npm run bench -- --only=sequential,parallel
 *   npm run bench -- --persist-root=/dev/shm --results=bench/.tmp/RESULTS-tmpfs.md
 *   npm run bench -- --profile --launchers=miniflare --only=fanout   # where the time goes
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { flow } from "./lib/flow.mjs";
import { closeConnections } from "./lib/http.mjs";
import { sleeps, waits } from "./lib/pauses.mjs";
import { remote } from "./lib/remote.mjs";
import { writeReport } from "./lib/report.mjs";
import { LAUNCHERS, prepare, ROOT, TMP } from "./lib/runtime.mjs";
import { dashboard, fanout, ingest, steps, throughput } from "./lib/scenarios.mjs";
import { Session } from "./lib/session.mjs";

const args = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, "").split("=");
    return [k, v ?? true];
  }),
);
const launchers = String(args.launchers ?? "wrangler-dev,miniflare").split(",");
for (const l of launchers) if (!LAUNCHERS[l]) throw new Error(`unknown launcher ${l}; known: ${Object.keys(LAUNCHERS).join(", ")}`);
const only = args.only ? new Set(String(args.only).split(",")) : null;

/** Sizes and repetitions: every figure is a median over `reps` runs. */
const FULL = {
  ingest: { events: 1000, batchEvents: 2000, reps: 3 },
  fanout: { reps: 5 },
  throughput: { counts: [100, 1000], reps: { 100: 5, 1000: 3 } },
  sequential: { ns: [1, 10, 100, 1000], reps: { 1: 5, 10: 5, 100: 5, 1000: 3 } },
  parallel: { ns: [10, 100, 1000], reps: { 10: 5, 100: 5, 1000: 3 } },
  sequentialIo: { ns: [1, 10, 100], reps: { 1: 5, 10: 5, 100: 3 } },
  dashboard: { runs: 10_000, steps: 1000, reps: 10 },
  waits: { background: [10, 2000], samples: 15 },
  sleeps: {
    ms: 2000,
    cases: [
      { count: 1, reps: 5 },
      { count: 50, reps: 3 },
      { count: 200, reps: 3 },
      { count: 200, reps: 3, staggerMs: 10 },
    ],
  },
  flow: { count: 1000, reps: 3 },
  remote: { ns: [1, 10, 50], reps: 5 },
};
const QUICK = {
  ingest: { events: 300, batchEvents: 500, reps: 1 },
  fanout: { reps: 2 },
  throughput: { counts: [100, 1000], reps: { 100: 1, 1000: 1 } },
  sequential: { ns: [1, 10, 100, 1000], reps: { 1: 2, 10: 2, 100: 2, 1000: 1 } },
  parallel: { ns: [10, 100, 1000], reps: { 10: 2, 100: 2, 1000: 1 } },
  sequentialIo: { ns: [1, 10, 100], reps: { 1: 1, 10: 1, 100: 1 } },
  dashboard: { runs: 10_000, steps: 1000, reps: 3 },
  waits: { background: [10, 200], samples: 3 },
  sleeps: {
    ms: 2000,
    cases: [
      { count: 1, reps: 2 },
      { count: 50, reps: 1 },
      { count: 50, reps: 1, staggerMs: 10 },
    ],
  },
  flow: { count: 300, reps: 1 },
  remote: { ns: [1, 10], reps: 2 },
};
const cfg = args.quick ? QUICK : FULL;

/** One session (a fresh runtime process, restarted on its object budget) per step of the plan. */
const PLAN = [
  { scenario: "ingest", session: "ingest", run: async (s, r) => (r.ingest = await ingest(s, cfg.ingest)) },
  { scenario: "fanout", session: "fan-out", run: async (s, r) => (r.fanout = await fanout(s, cfg.fanout)) },
  { scenario: "dashboard", session: "dashboard", run: async (s, r) => (r.dashboard = await dashboard(s, cfg.dashboard)) },
  {
    // One runtime per engine, alive together; the repetitions alternate between them (scenarios.mjs).
    scenario: "throughput",
    sessions: ["stepflare", "workflows", "floor"].map((engine) => `throughput/${engine}`),
    run: async (sessions, r) => {
      r.throughput = await throughput(
        Object.fromEntries(Object.entries(sessions).map(([label, s]) => [label.replace("throughput/", ""), s])),
        cfg.throughput,
      );
    },
  },
  {
    // One runtime per number of runs left waiting, alive together; the samples alternate between them (pauses.mjs).
    scenario: "waits",
    sessions: cfg.waits.background.map((n) => `waits/${n}`),
    run: async (sessions, r) => {
      r.waits = await waits(
        Object.fromEntries(Object.entries(sessions).map(([label, s]) => [Number(label.replace("waits/", "")), s])),
        cfg.waits,
      );
    },
  },
  { scenario: "sleeps", session: "sleeps", run: async (s, r) => (r.sleeps = await sleeps(s, cfg.sleeps)) },
  {
    scenario: "flow",
    session: "flow",
    run: async (s, r) => (r.flow = await flow(s, { ...cfg.flow, only: args["flow-variants"]?.split(",") })),
  },
  { scenario: "remote", session: "remote", run: async (s, r) => (r.remote = await remote(s, cfg.remote)) },
  ...["sequential", "parallel"].flatMap((shape) =>
    ["stepflare", "workflows"].map((engine) => ({
      scenario: shape,
      session: `${shape}/${engine}`,
      run: async (s, r) => {
        // Sequential steps that each read from D1 run in the same process as the trivial ones.
        const shapes =
          shape === "sequential"
            ? [
                ["sequential", "sequential"],
                ["sequentialIo", "sequential-io"],
              ]
            : [[shape, shape]];
        for (const [key, name] of shapes) {
          r[key] ??= {};
          r[key][engine] = await steps(s, engine, name, cfg[key]);
          if (engine === "stepflare") r[key].floor = await steps(s, "floor", name, cfg[key]);
        }
      },
    })),
  ),
];

/** The instrumented totals of one session, largest first. */
function printProfile(stats) {
  for (const [label, s] of Object.entries(stats)
    .sort((a, b) => b[1].ms - a[1].ms)
    .slice(0, 25)) {
    console.log(
      `    ${label.padEnd(48)} n=${String(s.n).padStart(7)}  total ${s.ms.toFixed(0).padStart(7)} ms  mean ${(s.ms / s.n).toFixed(3)} ms  max ${s.max}`,
    );
  }
}

/** The engine version measured: the commit, and whether src/ or sdk/ differed from it when the bundle was built. */
function engineVersion() {
  const git = (...a) => execFileSync("git", a, { cwd: ROOT, encoding: "utf8" }).trim();
  try {
    const dirty = git("status", "--porcelain", "--", "src", "sdk") !== "";
    return `${git("rev-parse", "--short", "HEAD")}${dirty ? " with uncommitted changes in src/ or sdk/" : ""}`;
  } catch {
    return "unknown (not a git checkout)";
  }
}

function machine() {
  const pkg = (name) => JSON.parse(fs.readFileSync(path.join(ROOT, "node_modules", name, "package.json"), "utf8")).version;
  return {
    nproc: os.availableParallelism(),
    memoryGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
    cpu: os.cpus()[0]?.model ?? "unknown",
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    wrangler: pkg("wrangler"),
    miniflare: pkg("miniflare"),
    workerd: pkg("workerd"),
  };
}

async function main() {
  const started = new Date();
  const stamp = started.toISOString().replace(/[:.]/g, "-");
  fs.mkdirSync(path.join(TMP, "logs"), { recursive: true });
  const logFile = (name) => path.join(TMP, "logs", `${stamp}-${name.replace(/\//g, "-")}.log`);
  console.log(
    `stepflare bench: ${launchers.join(", ")}${args.quick ? " (quick)" : ""}; logs in ${path.relative(ROOT, path.join(TMP, "logs"))}`,
  );
  const persistRoot = path.resolve(String(args["persist-root"] ?? os.tmpdir()));
  const profile = Boolean(args.profile);
  const vars = {};
  const engine = engineVersion();
  const { template, bundle } = prepare({ logFile: logFile("prepare"), persistRoot, profile });

  const results = {
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`,
    engine,
    persistRoot,
    startedAt: started.toISOString(),
    quick: Boolean(args.quick),
    config: cfg,
    machine: machine(),
    launchers: {},
  };
  let current;
  const interrupt = async () => {
    await current?.stop().catch(() => {});
    process.exit(130);
  };
  process.once("SIGINT", interrupt);
  process.once("SIGTERM", interrupt);
  try {
    for (const name of launchers) {
      const launcher = LAUNCHERS[name];
      const t0 = Date.now();
      const r = { label: launcher.label, settings: launcher.settings, memory: {}, processes: {} };
      results.launchers[name] = r;
      console.log(`\n== ${launcher.label}`);
      for (const step of PLAN) {
        if (only && !only.has(step.scenario)) continue;
        const labels = step.sessions ?? [step.session];
        console.log(`- ${labels.join(", ")}`);
        const sessions = Object.fromEntries(
          labels.map((label) => [
            label,
            new Session(launcher, { template, bundle, profile, vars, logFile: logFile(`${name}-${label}`), label }),
          ]),
        );
        current = { stop: () => Promise.all(Object.values(sessions).map((s) => s.stop())) };
        try {
          for (const s of Object.values(sessions)) await s.start();
          await step.run(step.sessions ? sessions : sessions[step.session], r);
        } finally {
          await current.stop();
        }
        for (const [label, s] of Object.entries(sessions)) {
          r.memory[label] = s.memory;
          if (profile) {
            (r.profile ??= {})[label] = s.profile;
            printProfile(s.profile);
          }
          r.processes[label] = s.processes;
          console.log(`  ${label}: runtime peak RSS ${s.memory.hwm.toFixed(0)} MiB over ${s.processes} process(es)`);
        }
        current = undefined;
      }
      r.seconds = Math.round((Date.now() - t0) / 1000);
    }
  } finally {
    closeConnections();
    fs.rmSync(template, { recursive: true, force: true });
  }
  results.seconds = Math.round((Date.now() - started.getTime()) / 1000);
  const json = path.join(TMP, `${profile ? "profile" : "results"}-${stamp}.json`);
  fs.writeFileSync(json, `${JSON.stringify(results, null, 2)}\n`);
  // Instrumented figures never go into RESULTS.md: the timing proxies cost time themselves.
  const report = path.resolve(ROOT, String(args.results ?? "bench/RESULTS.md"));
  if (!profile) writeReport(results, report);
  console.log(`\ndone in ${results.seconds} s: ${path.relative(ROOT, json)}${profile ? "" : `, ${path.relative(ROOT, report)}`}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
