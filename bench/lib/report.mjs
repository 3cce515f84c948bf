/**
 * Turns a results object into Markdown and writes it into RESULTS.md
 * between the generated-section markers, leaving the hand-written analysis
 * around them untouched.
 */
import fs from "node:fs";
import { ratio } from "./stats.mjs";

const BEGIN = "<!-- generated:begin (bench/run.mjs rewrites this section) -->";
const END = "<!-- generated:end -->";

const num = (v, digits) => (v == null ? "–" : v >= 100 && digits <= 1 ? v.toFixed(0) : v.toFixed(digits));
/** "median (min–max)" */
const fmt = (s, digits = 1) => (s ? `${num(s.median, digits)} (${num(s.min, digits)}–${num(s.max, digits)})` : "–");
const x = (r) => (r == null ? "–" : `${r.toFixed(2)}×`);

/** Marginal cost of one more step: (T(N_max) − T(1)) / (N_max − 1), from medians. */
function perStep(byN) {
  const ns = Object.keys(byN ?? {})
    .map(Number)
    .sort((a, b) => a - b);
  const lo = ns[0];
  const hi = ns.at(-1);
  if (lo === undefined || hi === lo) return null;
  const a = byN[lo]?.ms?.median;
  const b = byN[hi]?.ms?.median;
  return a == null || b == null ? null : (b - a) / (hi - lo);
}

const growth = (byN) => ratio(byN?.[1000]?.ms?.median, byN?.[100]?.ms?.median);

/** Every figure of one launcher, in one table. */
function summaryTable(r) {
  const rows = [["Figure", "Stepflare", "Workflows", "Floor", "Stepflare / Workflows"]];
  const add = (...cells) => rows.push(Array.from({ length: 5 }, (_, i) => cells[i] ?? "–"));
  if (r.ingest) {
    const { single, batch, singleAlone, batchAlone, httpFloor, batchFloor, singleAloneQueue, batchAloneQueue, singleQueue, batchQueue } =
      r.ingest;
    add(
      `Ingest: single-event requests/s, concurrency ${single.concurrency}, ${single.events} events × ${single.reps} (floor: GET of a trivial route)`,
      fmt(single.requestsPerSec, 0),
      null,
      fmt(httpFloor?.requestsPerSec, 0),
    );
    add(
      `Ingest: events/s in requests of 100, concurrency ${batch.concurrency}, ${batch.events} events × ${batch.reps} (floor: the same bodies POSTed to a route that only reads them)`,
      fmt(batch.eventsPerSec, 0),
      null,
      fmt(batchFloor?.eventsPerSec, 0),
    );
    if (singleAloneQueue)
      add(
        "Ingest alone, queue path (as behind Cloudflare's edge): single-event requests/s; events/s in requests of 100 (floor: trivial GET; the same bodies to a trivial POST)",
        `${fmt(singleAloneQueue.requestsPerSec, 0)}; ${fmt(batchAloneQueue.eventsPerSec, 0)}`,
        null,
        `${fmt(httpFloor?.requestsPerSec, 0)}; ${fmt(batchFloor?.eventsPerSec, 0)}`,
      );
    if (singleQueue)
      add(
        "Ingest with runs, queue path: single-event requests/s; events/s in requests of 100; runs completed/expected",
        `${fmt(singleQueue.requestsPerSec, 0)}; ${fmt(batchQueue.eventsPerSec, 0)}; ${singleQueue.completed + batchQueue.completed}/${singleQueue.expected + batchQueue.expected}`,
      );
    if (singleAlone)
      add(
        "Ingest alone (event with no subscriber): single-event requests/s; events/s in requests of 100",
        `${fmt(singleAlone.requestsPerSec, 0)}; ${fmt(batchAlone.eventsPerSec, 0)}`,
      );
    add(
      "Ingest: workerd CPU per request (ms), runs included: single; batch of 100 — alone: single; batch of 100 (floor: trivial route)",
      `${num(single.cpuMsPerRequest?.median, 2)}; ${num(batch.cpuMsPerRequest?.median, 2)} — ${num(singleAlone?.cpuMsPerRequest?.median, 2)}; ${num(batchAlone?.cpuMsPerRequest?.median, 2)}`,
      null,
      num(httpFloor?.cpuMsPerRequest?.median, 2),
    );
    add(
      "Ingest: request latency p50 / p99, single; batch (ms)",
      `${num(single.latencyP50, 1)} / ${num(single.latencyP99, 1)}; ${num(batch.latencyP50, 1)} / ${num(batch.latencyP99, 1)}`,
    );
    add(
      "Ingest single: first POST → last run completed (ms); runs completed/expected",
      `${fmt(single.completionMs, 0)}; ${single.completed}/${single.expected}`,
    );
    add(
      "Ingest batches: first POST → last run completed (ms); runs completed/expected",
      `${fmt(batch.completionMs, 0)}; ${batch.completed}/${batch.expected}`,
    );
  }
  if (r.remote) {
    for (const n of Object.keys(r.remote.local))
      add(
        `Remote steps: N sequential steps, trigger → completed (ms), N=${n}: local; on an inngest SDK app over loopback HTTP`,
        `${fmt(r.remote.local[n].ms, 1)}; ${fmt(r.remote.remote[n].ms, 1)}`,
      );
    const local = perStep(r.remote.local);
    const far = perStep(r.remote.remote);
    add(
      "Remote steps: overhead per step, (T(N) − T(1)) / (N − 1) (ms): local; remote; remote / local",
      `${num(local, 2)}; ${num(far, 2)}; ${x(ratio(far, local))}`,
    );
  }
  if (r.fanout) {
    for (const size of [1, 4, 20])
      add(
        `Fan-out to ${size}: POST → last run completed (ms, ×${r.fanout.reps}) (floor: one request creating ${size} bare SQLite object(s) with one write each)`,
        fmt(r.fanout.ms[size]),
        null,
        fmt(r.fanout.floorMs?.[size], 1),
      );
    add(
      "Fan-out: T(20) / T(1); runs lost",
      `${x(ratio(r.fanout.ms[20]?.median, r.fanout.ms[1]?.median))}; ${r.fanout.lost}`,
      null,
      x(ratio(r.fanout.floorMs?.[20]?.median, r.fanout.floorMs?.[1]?.median)),
    );
  }
  if (r.throughput) {
    const { stepflare: sf = {}, workflows: wf = {}, floor: fl = {} } = r.throughput;
    for (const count of Object.keys(sf)) {
      add(
        `Throughput, ${count} one-step runs: completed per second; completed/expected (×${sf[count].reps}) (floor: bare SQLite objects with one write, per second)`,
        `${fmt(sf[count].perSec, 0)}; ${sf[count].completed}/${sf[count].expected}`,
        wf[count] ? `${fmt(wf[count].perSec, 0)}; ${wf[count].completed}/${wf[count].expected}` : null,
        fmt(fl[count]?.perSec, 0),
        x(ratio(sf[count].perSec?.median, wf[count]?.perSec?.median)),
      );
      add(
        `Throughput, ${count}: workerd CPU per run (ms); cores busy (CPU time / elapsed)`,
        `${fmt(sf[count].cpuMsPerRun, 2)}; ${num(sf[count].cores?.median, 2)}`,
        wf[count] ? `${fmt(wf[count].cpuMsPerRun, 2)}; ${num(wf[count].cores?.median, 2)}` : null,
        fl[count] ? `${fmt(fl[count].cpuMsPerRun, 2)}; ${num(fl[count].cores?.median, 2)}` : null,
        x(ratio(sf[count].cpuMsPerRun?.median, wf[count]?.cpuMsPerRun?.median)),
      );
    }
  }
  const SHAPE_LABELS = { sequential: "Sequential", sequentialIo: "Sequential, one D1 read in each step", parallel: "Promise.all" };
  for (const shape of ["sequential", "sequentialIo", "parallel"]) {
    const s = r[shape];
    if (!s) continue;
    for (const n of Object.keys(s.stepflare ?? {})) {
      const sf = s.stepflare[n];
      const wf = s.workflows?.[n];
      add(
        `${SHAPE_LABELS[shape]}, N = ${n}: trigger → run completed (ms, ×${sf.reps})`,
        fmt(sf.ms, 1),
        fmt(wf?.ms, 1),
        fmt(s.floor?.[n]?.ms, 1),
        x(ratio(sf.ms?.median, wf?.ms?.median)),
      );
    }
    if (shape === "sequential") {
      const a = perStep(s.stepflare);
      const b = perStep(s.workflows);
      const f = perStep(s.floor);
      add(
        "Sequential: overhead per step, (T(1000) − T(1)) / 999 (ms)",
        num(a, 3),
        num(b, 3),
        f !== null && Math.abs(f) < 0.001 ? "< 0.001" : num(f, 3),
        x(ratio(a, b)),
      );
      add("Sequential: growth T(1000) / T(100)", x(growth(s.stepflare)), x(growth(s.workflows)), x(growth(s.floor)));
      const exec = s.stepflare?.[1000]?.execMs;
      if (exec) add("Sequential N = 1000, Stepflare run start → end, without trigger (ms)", fmt(exec, 1));
    }
    if (shape === "sequentialIo") {
      // Above the floor, which does the same reads with no durability.
      const over = (byN) => {
        const t = byN?.[100]?.ms?.median;
        const f = s.floor?.[100]?.ms?.median;
        return t == null || f == null ? null : (t - f) / 100;
      };
      const a = over(s.stepflare);
      const b = over(s.workflows);
      add(
        "Sequential with a D1 read per step: overhead per step above the floor, (T(100) − floor(100)) / 100 (ms)",
        num(a, 3),
        num(b, 3),
        null,
        x(ratio(a, b)),
      );
    }
  }
  for (const [session, m] of Object.entries(r.memory ?? {})) {
    add(
      `Peak RSS of workerd (VmHWM), ${session} (MiB, max over ${r.processes[session]} process(es))${m.proxyHwm ? `; proxy workerd ${num(m.proxyHwm, 0)}` : ""}`,
      num(m.hwm, 0),
    );
  }
  return rows;
}

/** The targets, each checked against one launcher's medians. */
function targetRows(name, r) {
  const rows = [];
  const add = (target, measured, met, margin) =>
    rows.push([target, name, measured, met === null ? "n/a" : met ? "met" : "**missed**", margin]);
  const seq = r.sequential;
  if (seq) {
    const a = perStep(seq.stepflare);
    const b = perStep(seq.workflows);
    const q = ratio(a, b);
    add(
      "Sequential step overhead ≤ ½ of Workflows'",
      `${num(a, 3)} vs ${num(b, 3)} ms/step = ${x(q)}`,
      q === null ? null : q <= 0.5,
      q === null ? "" : `${x(q / 0.5)} of the allowance`,
    );
    const g = growth(seq.stepflare);
    add(
      "Stepflare T(1000) / T(100) ≤ 11",
      x(g),
      g === null ? null : g <= 11,
      g === null ? "" : `${g - 11 > 0 ? "+" : ""}${(g - 11).toFixed(2)} vs 11`,
    );
  }
  const io = r.sequentialIo;
  if (io?.floor?.[100]) {
    const over = (byN) => (byN?.[100]?.ms?.median == null ? null : (byN[100].ms.median - io.floor[100].ms.median) / 100);
    const q = ratio(over(io.stepflare), over(io.workflows));
    add(
      "(Context, not a set target) the same with a D1 read in every step, above the floor",
      `${num(over(io.stepflare), 3)} vs ${num(over(io.workflows), 3)} ms/step = ${x(q)}`,
      q === null ? null : q <= 0.5,
      q === null ? "" : `${x(q / 0.5)} of the allowance`,
    );
  }
  if (r.parallel) {
    const a = r.parallel.stepflare?.[1000]?.ms?.median;
    const b = r.parallel.workflows?.[1000]?.ms?.median;
    const q = ratio(a, b);
    add(
      "1,000 parallel steps in ≤ Workflows' time",
      `${num(a, 0)} vs ${num(b, 0)} ms = ${x(q)}`,
      q === null ? null : q <= 1,
      q === null ? "" : `${x(q)} of Workflows' time`,
    );
  }
  if (r.throughput) {
    for (const count of Object.keys(r.throughput.stepflare ?? {})) {
      const a = r.throughput.stepflare[count]?.perSec?.median;
      const b = r.throughput.workflows?.[count]?.perSec?.median;
      const c = r.throughput.floor?.[count]?.perSec?.median;
      const q = ratio(a, b);
      const f = ratio(a, c);
      add(
        `Runs/s ≥ 2 × Workflows' instances/s and ≥ 0.8 × bare objects/s (${count})`,
        `${num(a, 0)} vs ${num(b, 0)} /s = ${x(q)}; vs ${num(c, 0)} /s = ${x(f)}`,
        q === null || f === null ? null : q >= 2 && f >= 0.8,
        q === null || f === null ? "" : `${x(q / 2)}; ${x(f / 0.8)} of the targets`,
      );
    }
  }
  if (r.ingest) {
    const { httpFloor, batchFloor } = r.ingest;
    // Ingest alone against what the same launcher serves for a route that does nothing: the queue path is production's, the store path local dev's.
    for (const [path, single, batch] of [
      ["queue path", r.ingest.singleAloneQueue, r.ingest.batchAloneQueue],
      ["store path, context", r.ingest.singleAlone, r.ingest.batchAlone],
    ]) {
      if (!single) continue;
      const q = ratio(single.requestsPerSec?.median, httpFloor?.requestsPerSec?.median);
      add(
        `Ingest alone (${path}): single-event requests/s ≥ 0.7 × a trivial route's`,
        `${num(single.requestsPerSec?.median, 0)} vs ${num(httpFloor?.requestsPerSec?.median, 0)} /s = ${x(q)}`,
        q === null ? null : q >= 0.7,
        q === null ? "" : `${x(q / 0.7)} of the target`,
      );
      const b = ratio(batch?.eventsPerSec?.median, batchFloor?.eventsPerSec?.median);
      add(
        `Ingest alone (${path}): requests of 100 ≥ 0.7 × a trivial route's bytes/s (the same bodies)`,
        `${num(batch?.eventsPerSec?.median, 0)} vs ${num(batchFloor?.eventsPerSec?.median, 0)} events/s = ${x(b)}`,
        b === null ? null : b >= 0.7,
        b === null ? "" : `${x(b / 0.7)} of the target`,
      );
    }
    const withRuns = ["single", "batch", "singleQueue", "batchQueue"].map((k) => r.ingest[k]).filter(Boolean);
    const lost = withRuns.reduce((n, m) => n + m.expected - m.completed, 0);
    add("Ingest: 0 runs lost", `${lost} lost of ${withRuns.reduce((n, m) => n + m.expected, 0)}`, lost === 0, "");
  }
  if (r.waits) {
    const [lo, hi] = [Math.min(...Object.keys(r.waits).map(Number)), Math.max(...Object.keys(r.waits).map(Number))];
    const a = r.waits[lo].resumeMs?.median;
    const b = r.waits[lo].oneStepMs?.median;
    const q = ratio(a, b);
    add(
      "waitForEvent: resume POST → completed ≤ 2 × one-step trigger → completed (medians)",
      `${num(a, 1)} vs ${num(b, 1)} ms = ${x(q)} (${lo} waiting)`,
      q === null ? null : q <= 2,
      q === null ? "" : `${x(q / 2)} of the allowance`,
    );
    const c = r.waits[hi].resumeMs?.median;
    const g = ratio(c, a);
    add(
      `waitForEvent: resume with ${hi} runs waiting ≤ 1.5 × with ${lo} waiting`,
      `${num(c, 1)} vs ${num(a, 1)} ms = ${x(g)}`,
      g === null ? null : g <= 1.5,
      g === null ? "" : `${x(g / 1.5)} of the allowance`,
    );
  }
  for (const d of Object.values(r.sleeps ?? {})) {
    const m = d.lateMs?.median;
    add(
      `Sleep wake lateness ≤ 50 ms (median; ${d.count} run(s) asleep together${d.staggerMs ? `, waking ${d.staggerMs} ms apart` : d.count > 1 ? ", all due at once" : ""})`,
      `${num(m, 1)} ms (p95 ${num(d.lateMs?.p95, 1)}, max ${num(d.lateMs?.max, 1)})`,
      m == null ? null : m <= 50,
      m == null ? "" : `${x(m / 50)} of the allowance`,
    );
  }
  if (r.flow) {
    const { none, concurrency } = r.flow.variants;
    const q = ratio(concurrency?.perSec?.median, none?.perSec?.median);
    add(
      "Runs/s with concurrency 50 ≥ 0.8 × without a limit",
      `${num(concurrency?.perSec?.median, 0)} vs ${num(none?.perSec?.median, 0)} /s = ${x(q)}`,
      q === null ? null : q >= 0.8,
      q === null ? "" : `${x(q / 0.8)} of the target`,
    );
  }
  if (r.fanout) {
    const q = ratio(r.fanout.ms[20]?.median, r.fanout.floorMs?.[20]?.median);
    add(
      "Fan-out T(20) ≤ 1.2 × the floor's T(20) (creating 20 bare objects)",
      `${num(r.fanout.ms[20]?.median, 0)} vs ${num(r.fanout.floorMs?.[20]?.median, 0)} ms = ${x(q)}`,
      q === null ? null : q <= 1.2,
      q === null ? "" : `${x(q / 1.2)} of the allowance`,
    );
  }
  return rows;
}

/** The dashboard scenario: each page's server time (inside the Worker) and client time (with local HTTP), ms. */
function dashboardRows(d) {
  const rows = [["Page", "Server ms", "Client ms", "KiB"]];
  for (const [label, p] of Object.entries(d.pages)) rows.push([label, fmt(p.serverMs), fmt(p.clientMs), (p.bytes / 1024).toFixed(0)]);
  return rows;
}

/** waitForEvent: one row per number of runs left waiting in the session. */
function waitsRows(w) {
  const rows = [
    [
      "Runs waiting",
      "all waiting after (ms)",
      "one-step: trigger → completed (ms)",
      "waitForEvent: resume POST → completed (ms)",
      "resume / one-step",
      "lost",
    ],
  ];
  for (const d of Object.values(w))
    rows.push([
      d.background.toLocaleString("en"),
      num(d.fillMs, 0),
      fmt(d.oneStepMs, 1),
      fmt(d.resumeMs, 1),
      x(ratio(d.resumeMs?.median, d.oneStepMs?.median)),
      String(d.lost),
    ]);
  return rows;
}

/** Sleep wake lateness, one row per number of runs asleep together. */
function sleepsRows(sl) {
  const rows = [
    [
      "Runs asleep together × repetitions",
      "wake lateness: median (min–max) (ms)",
      "p95 (ms)",
      "run end − wakeAt: median; p95 (ms)",
      "wakeAt spread (ms)",
      "first due → last woke, per run (ms)",
      "lost",
    ],
  ];
  for (const d of Object.values(sl))
    rows.push([
      `${d.count}${d.staggerMs ? `, waking ${d.staggerMs} ms apart` : ""} × ${d.reps} (${d.ms} ms sleeps)`,
      fmt(d.lateMs, 1),
      num(d.lateMs?.p95, 1),
      `${num(d.endLateMs?.median, 1)}; ${num(d.endLateMs?.p95, 1)}`,
      num(d.wakeSpreadMs, 0),
      d.msPerWake ? num(d.msPerWake.median, 2) : "–",
      String(d.lost),
    ]);
  return rows;
}

const FLOW_LABELS = {
  none: "no limit",
  concurrency: "`concurrency: 50`",
  concurrency1000: "`concurrency: 1000` (never reached: no run queues)",
  throttle: "`throttle` 10,000/s, burst 10,000",
  rateLimit: "`rateLimit` 1,000/s per burst",
  idempotency: "`idempotency` (a key per event)",
  debounce: "`debounce` 1 s (a key per event; runs start 1 s late)",
};

/** Flow control: each option's runs/s and CPU per run against the same function without one. */
function flowRows(f) {
  const rows = [
    ["Function (one step)", "runs/s", "× no limit", "workerd CPU per run (ms)", "CPU + vs no limit (ms)", "completed/expected"],
  ];
  const none = f.variants.none;
  for (const [v, d] of Object.entries(f.variants)) {
    const extra = d.cpuMsPerRun && none?.cpuMsPerRun ? d.cpuMsPerRun.median - none.cpuMsPerRun.median : null;
    rows.push([
      FLOW_LABELS[v] ?? v,
      fmt(d.perSec, 0),
      v === "none" ? "–" : x(ratio(d.perSec?.median, none?.perSec?.median)),
      fmt(d.cpuMsPerRun, 2),
      v === "none" || extra === null ? "–" : `${extra >= 0 ? "+" : ""}${extra.toFixed(2)}`,
      `${d.completed}/${d.expected}`,
    ]);
  }
  return rows;
}

const table = (rows) => [rows[0], rows[0].map(() => "---"), ...rows.slice(1)].map((r) => `| ${r.join(" | ")} |`).join("\n");

export function renderGenerated(results) {
  const m = results.machine;
  const out = [
    `Run of ${results.startedAt} (${results.seconds} s in all)${results.quick ? ", **quick mode: one or two repetitions, smaller bursts**" : ""}.`,
    "",
    `- Machine: ${m.nproc} cores (${m.cpu}), ${m.memoryGiB} GiB memory, ${m.kernel}`,
    `- Versions: node ${m.node}, wrangler ${m.wrangler}, miniflare ${m.miniflare}, workerd ${m.workerd}`,
    `- Command: \`${results.command}\`; engine at ${results.engine}; state persisted under ${results.persistRoot}`,
    "- Figures are median (min–max) over the repetitions shown; times run from just before the first request to the end time the last run recorded (Stepflare: `runs.ended_at`; Workflows: `Date.now()` returned by the instance's `run()`).",
    "",
  ];
  const targets = [["Target", "Launcher", "Measured (medians)", "Met?", "By how much"]];
  for (const [_name, r] of Object.entries(results.launchers)) {
    out.push(`### ${r.label} (${r.seconds} s)`, "", `Settings: ${r.settings}.`, "", table(summaryTable(r)), "");
    if (r.dashboard)
      out.push(
        `Dashboard pages (${r.dashboard.pages[Object.keys(r.dashboard.pages)[0]]?.reps} requests each):`,
        "",
        table(dashboardRows(r.dashboard)),
        "",
      );
    if (r.waits)
      out.push(
        `waitForEvent (${Object.values(r.waits)[0]?.samples} samples per row, alternating between the runtimes; each sample a fresh run on a key of its own):`,
        "",
        table(waitsRows(r.waits)),
        "",
      );
    if (r.sleeps)
      out.push(
        "Sleeps (lateness: the `Date.now()` of the step after the sleep − the sleep's `wakeAt`):",
        "",
        table(sleepsRows(r.sleeps)),
        "",
      );
    if (r.flow)
      out.push(
        `Flow control (${r.flow.count.toLocaleString("en")} events in requests of 100, ×${r.flow.reps}, alternating):`,
        "",
        table(flowRows(r.flow)),
        "",
      );
    targets.push(...targetRows(r.label, r));
  }
  out.push("### Targets", "", table(targets), "");
  return out.join("\n");
}

export function writeReport(results, file) {
  const generated = `${BEGIN}\n${renderGenerated(results)}\n${END}`;
  const existing = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : null;
  const text =
    existing?.includes(BEGIN) && existing.includes(END)
      ? existing.slice(0, existing.indexOf(BEGIN)) + generated + existing.slice(existing.indexOf(END) + END.length)
      : `# Stepflare bench results\n\n${generated}\n`;
  fs.writeFileSync(file, text);
}
