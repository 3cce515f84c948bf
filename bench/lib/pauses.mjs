/**
 * Runs that pause: `step.waitForEvent` resumed by an event (how long the
 * resume takes, and whether it grows with the runs waiting), and
 * `step.sleep` (how late a sleeping run wakes). Every figure comes from
 * times the engine recorded: the run's `ended_at`, a sleep's `wakeAt`, the
 * `Date.now()` of the step after it.
 */
import { StepflareDriver } from "./engines.mjs";
import { getJson, mapLimit, pollUntil, postJson, sleep } from "./http.mjs";
import { stepflareBurst } from "./scenarios.mjs";
import { quantile, summarize } from "./stats.mjs";

const WAIT = { timeoutMs: 180_000, stallMs: 30_000 };
/**
 * After a wait's row is in the index, its run looks back on the events sent
 * since its trigger (one D1 read); the resuming event is sent this much later,
 * so the sample times the resume alone, not a race with the look-back.
 */
const SETTLE_MS = 50;

const sendOne = async (base, event) => (await postJson(`${base}/e/bench-key`, event)).ids[0];

/** The run of `fn` that event `eventId` started, as the run listing has it. */
const listed = (base, eventId, fn) => getJson(`${base}/bench/run?event=${eventId}&fn=${fn}`);

/** How many waits for `bench/resume` the index holds (for one key, or all). */
const waitRows = async (base, key) =>
  (await getJson(`${base}/bench/waits?name=bench/resume${key === undefined ? "" : `&value=${encodeURIComponent(key)}`}`)).count;

/** Starts a run waiting on `key` and answers once its object says `waiting` and its wait is in the index. */
async function startWaiter(base, key) {
  const eventId = await sendOne(base, { name: "bench/wait", data: { k: key } });
  const r = await pollUntil(
    async () => {
      const run = await listed(base, eventId, "bench-wait");
      if (!run.id) return { done: false, progressKey: "unlisted" };
      const [detail, rows] = await Promise.all([getJson(`${base}/api/v1/runs/${run.id}`), waitRows(base, key)]);
      return { done: detail.status === "waiting" && rows === 1, progressKey: `${detail.status}/${rows}` };
    },
    { timeoutMs: 60_000 },
  );
  if (r.timedOut) throw new Error(`the run waiting on ${key} never registered its wait`);
  return eventId;
}

/** One resume: a fresh run waits on `key`; POST of the resuming event → the run's `ended_at`. */
async function resumeSample(session, key) {
  await session.ensureRoom(1);
  const eventId = await startWaiter(session.base, key);
  await sleep(SETTLE_MS);
  const since = Date.now();
  await sendOne(session.base, { name: "bench/resume", data: { k: key } });
  const r = await pollUntil(async () => {
    const run = await listed(session.base, eventId, "bench-wait");
    return { done: run.endedAt !== null, progressKey: run.status, run };
  }, WAIT);
  if (r.timedOut || r.run.status !== "completed") {
    console.warn(`  ! resume of ${key}: run ${r.run.status}${r.timedOut ? " (gave up waiting)" : ""}`);
    return null;
  }
  return r.run.endedAt - since;
}

/** `n` runs waiting on distinct keys, all registered; answers the time from the first POST until the index held them all. */
async function fillWaiting(session, n) {
  await session.ensureRoom(n);
  const sf = new StepflareDriver(session.base);
  const since = Date.now();
  await sf.send(Array.from({ length: n }, (_, i) => ({ name: "bench/wait", data: { k: `background-${i}` } })));
  const r = await pollUntil(async () => {
    const rows = await waitRows(session.base);
    return { done: rows >= n, progressKey: rows, rows };
  }, WAIT);
  if (r.timedOut) throw new Error(`only ${r.rows} of ${n} background waits registered`);
  return Date.now() - since;
}

/**
 * 8. waitForEvent: in each session, `background` runs wait on keys of their
 * own; then, repetition by repetition and alternating between the sessions,
 * a one-step run (trigger POST → completed) and a fresh run that waits and is
 * resumed (resuming POST → completed). The sessions live together, so both
 * background sizes meet the same drift.
 */
export async function waits(sessions, { samples }) {
  const sizes = Object.keys(sessions).map(Number);
  const out = {};
  const processes = {};
  for (const n of sizes) {
    const s = sessions[n];
    out[n] = { background: n, fillMs: await fillWaiting(s, n), oneStep: [], resume: [] };
    processes[n] = s.processes;
    console.log(`  waits: ${n} runs waiting after ${out[n].fillMs} ms`);
  }
  for (let r = -1; r < samples; r++) {
    for (let k = 0; k < sizes.length; k++) {
      const n = sizes[(Math.max(r, 0) + k) % sizes.length];
      const s = sessions[n];
      const one = await stepflareBurst(s, { name: "bench/one-step", fn: "bench-one-step", count: 1 });
      const resume = await resumeSample(s, `sample-${r + 1}`);
      if (r < 0) continue; // warm-up
      out[n].oneStep.push(one.endMs);
      out[n].resume.push(resume);
    }
  }
  for (const n of sizes) {
    // A restart would have dropped the background: the figures would not be "with n waiting".
    if (sessions[n].processes !== processes[n]) throw new Error(`waits/${n}: the runtime restarted mid-scenario`);
    out[n] = {
      background: n,
      fillMs: out[n].fillMs,
      samples,
      stillWaiting: await waitRows(sessions[n].base),
      oneStepMs: summarize(out[n].oneStep),
      resumeMs: summarize(out[n].resume),
      lost: out[n].resume.filter((v) => v === null).length,
    };
    console.log(
      `  waits with ${n} waiting: one-step ${out[n].oneStepMs?.median} ms, resume ${out[n].resumeMs?.median} ms (${out[n].stillWaiting} still waiting)`,
    );
  }
  return out;
}

/** Each run's wake lateness: the `Date.now()` of the step after its sleep minus the sleep's `wakeAt`. */
async function latenesses(base, since) {
  const { ids } = await getJson(`${base}/bench/run-ids?fn=bench-sleep&since=${since}`);
  return mapLimit(ids, 8, async (id) => {
    const d = await getJson(`${base}/api/v1/runs/${id}`);
    const sleepStep = d.steps.find((s) => s.id === "s");
    const woke = d.steps.find((s) => s.id === "woke");
    if (d.status !== "completed" || !sleepStep?.wakeAt || typeof woke?.output !== "number") return null;
    const wakeAt = Date.parse(sleepStep.wakeAt);
    return { wakeAt, late: woke.output - wakeAt, endLate: Date.parse(d.endedAt) - wakeAt };
  });
}

/**
 * 9. Sleeps: for each case, `count` runs started together (events in
 * requests of 100), run i sleeping `ms + i × staggerMs`; then the step after
 * the sleep records `Date.now()`. Lateness = that time − the sleep's
 * `wakeAt` in the run's detail. With no stagger every run is due within a few
 * milliseconds of the others, and the wakes queue on the one local thread;
 * staggered, the runs sleep together but wake one by one.
 */
export async function sleeps(session, { ms, cases }) {
  const out = {};
  for (const { count, reps, staggerMs = 0 } of cases) {
    const key = staggerMs ? `${count}, ${staggerMs} ms apart` : String(count);
    const late = [];
    const endLate = [];
    const perWake = [];
    let spread = 0;
    let lost = 0;
    for (let r = 0; r < reps; r++) {
      const b = await stepflareBurst(session, {
        name: "bench/sleep",
        fn: "bench-sleep",
        count,
        data: { ms },
        dataOf: (i) => ({ ms: ms + i * staggerMs }),
      });
      const xs = (await latenesses(session.base, b.since)).filter(Boolean);
      lost += count - xs.length;
      if (xs.length === 0) continue;
      const wakes = xs.map((x) => x.wakeAt);
      spread = Math.max(spread, Math.max(...wakes) - Math.min(...wakes));
      // The last wake's time, first due to last handled, per run: how fast wakes are handled when they pile up.
      if (count > 1 && !staggerMs) perWake.push((Math.max(...xs.map((x) => x.wakeAt + x.late)) - Math.min(...wakes)) / xs.length);
      for (const x of xs) {
        late.push(x.late);
        endLate.push(x.endLate);
      }
    }
    out[key] = {
      count,
      ms,
      staggerMs,
      runs: late.length,
      reps,
      lost,
      wakeSpreadMs: spread,
      msPerWake: summarize(perWake),
      lateMs: { ...summarize(late), p95: quantile(late, 0.95) },
      endLateMs: { ...summarize(endLate), p95: quantile(endLate, 0.95) },
    };
    console.log(
      `  sleeps ${key} (${ms} ms): late median ${out[key].lateMs.median} ms, p95 ${out[key].lateMs.p95}, max ${out[key].lateMs.max}`,
    );
  }
  return out;
}
