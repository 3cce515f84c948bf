/**
 * What the chaos run checks once the sending is over: every event's runs,
 * polled from the listing until none is running, then their details and
 * outputs from their objects, and how many times each step executed.
 */
import { sleep } from "./runtime.mjs";

const TERMINAL = new Set(["completed", "failed", "cancelled"]);
const FUNCTIONS = ["chaos-sequential", "chaos-parallel", "chaos-sleeping"];
const STEPS = {
  "chaos-sequential": ["add", "double", "add-three"],
  "chaos-parallel": ["p0", "p1", "p2", "p3"],
  "chaos-sleeping": ["before", "after"],
};
const CONCURRENCY = 8;

/** The output each function's run must have for event `n` (bench/chaos/worker.ts). */
export function expectedOutput(functionId, n) {
  if (functionId === "chaos-sequential") return { n, total: (n + 1) * 2 + 3 };
  if (functionId === "chaos-sleeping") return { n, value: n * 3 + 1 };
  return [0, 1, 2, 3].map((i) => `p${i}:${n}`);
}

/** GET as JSON; answers `{ status, body }`, or `{ status: 0 }` when the runtime did not answer. */
export async function getJson(url) {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(15_000) });
    return { status: res.status, body: res.status === 200 ? await res.json() : await res.text() };
  } catch (e) {
    return { status: 0, body: String(e) };
  }
}

async function eachLimited(items, limit, fn) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Every run id the listing shows as running or sleeping, through every page of `GET /api/v1/runs?status=`; null if a page failed. */
async function listedRunning(base) {
  const ids = new Set();
  for (const status of ["running", "sleeping"]) {
    let cursor;
    for (let page = 0; page < 1_000; page++) {
      const res = await getJson(`${base}/api/v1/runs?status=${status}&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      if (res.status !== 200) return null;
      for (const r of res.body.runs) ids.add(r.id);
      cursor = res.body.nextCursor;
      if (!cursor) break;
    }
  }
  return ids;
}

/**
 * Polls the listing until every event lists its runs and none of them
 * is listed as running or sleeping, or `deadline` passes. It never calls a run's
 * object while it waits: a call wakes the object and re-arms its alarm, so
 * polling the objects would hide a run whose alarm was lost in a kill.
 * Answers one entry per event, `{ n, id, runs: Map<functionId, { id, listed }> }`,
 * and when the listing first showed every run terminal (null if it never did).
 */
export async function pollListing(base, events, deadline, log) {
  const state = events.map((e) => ({ n: e.data.n, id: e.id, runs: new Map() }));
  for (let pass = 0; ; pass++) {
    const unlisted = state.filter((s) => s.runs.size < FUNCTIONS.length);
    await eachLimited(unlisted, CONCURRENCY, async (s) => {
      const ev = await getJson(`${base}/api/v1/events/${encodeURIComponent(s.id)}`);
      if (ev.status !== 200) return;
      // "running" here stands for any status not terminal (sleeping too).
      for (const r of ev.body.runs) s.runs.set(r.functionId, { id: r.id, listed: TERMINAL.has(r.status) ? r.status : "running" });
    });
    const running = await listedRunning(base);
    let open = 0;
    for (const s of state) {
      for (const r of s.runs.values()) {
        if (running) r.listed = running.has(r.id) ? "running" : r.listed === "running" ? "ended" : r.listed;
      }
      if (s.runs.size < FUNCTIONS.length || [...s.runs.values()].some((r) => r.listed === "running")) open++;
    }
    if (pass % 10 === 0 || open === 0) log(`poll: ${open} of ${state.length} events have runs missing or listed as running`);
    if (open === 0 && running) return { state, listedDoneAt: Date.now() };
    if (Date.now() > deadline) return { state, listedDoneAt: null };
    await sleep(1_000);
  }
}

/** Reads every run's detail from its object, once the wait is over. */
export async function readDetails(base, state) {
  const runs = state.flatMap((s) => [...s.runs.values()]);
  await eachLimited(runs, CONCURRENCY, async (r) => {
    const res = await getJson(`${base}/api/v1/runs/${encodeURIComponent(r.id)}`);
    if (res.status === 200) r.detail = res.body;
  });
}

/**
 * The figures of a polled state, with the step executions from `GET /chaos/calls`.
 * A step executed again with no kill since its previous execution is counted
 * apart: a kill explains the other re-runs.
 */
export function tally(state, callRows, { lastRestartAt, deadline, killTimes }) {
  const calls = new Map();
  for (const [n, fn, step, at] of callRows) {
    const key = `${n}/${fn}/${step}`;
    calls.set(key, [...(calls.get(key) ?? []), at]);
  }
  const killBetween = (a, b) => killTimes.some((k) => k > a && k < b);
  const f = { expected: state.length * FUNCTIONS.length, present: 0, terminal: 0, completed: 0, failed: 0, wrong: 0 };
  Object.assign(f, { extraExecutions: 0, multiRunSteps: 0, maxExecutions: 0, rerunsWithoutKill: 0, retriedSteps: 0, maxAttempts: 0 });
  Object.assign(f, { listedNotTerminal: 0, lastEndedAt: 0 });
  const stuck = [];
  for (const s of state) {
    for (const functionId of FUNCTIONS) {
      const run = s.runs.get(functionId);
      if (!run) {
        stuck.push({ eventId: s.id, functionId, problem: "missing" });
        continue;
      }
      f.present++;
      const d = run.detail;
      // Read after the wait: a run that ended since, woken by that very read, still counts as lost.
      if (!TERMINAL.has(d?.status) || Date.parse(d.endedAt) > deadline) {
        stuck.push({ eventId: s.id, functionId, problem: "not terminal at the timeout", listed: run.listed, detail: d ?? null });
        continue;
      }
      f.terminal++;
      if (run.listed === "running") {
        f.listedNotTerminal++;
        stuck.push({ eventId: s.id, functionId, problem: "ended, still listed as running", detail: d });
      }
      f.lastEndedAt = Math.max(f.lastEndedAt, Date.parse(d.endedAt));
      if (d.status === "completed") f.completed++;
      if (d.status === "failed") f.failed++;
      if (d.status !== "completed" || JSON.stringify(d.output) !== JSON.stringify(expectedOutput(functionId, s.n))) f.wrong++;
      f.retriedSteps += d.steps.filter((st) => st.attempts > 1).length;
      f.maxAttempts = Math.max(f.maxAttempts, ...d.steps.map((st) => st.attempts));
      const fn = functionId.replace("chaos-", "");
      for (const step of STEPS[functionId]) {
        const ats = calls.get(`${s.n}/${fn}/${step}`) ?? [];
        const count = ats.length;
        f.extraExecutions += Math.max(0, count - 1);
        for (let i = 1; i < count; i++) if (!killBetween(ats[i - 1], ats[i])) f.rerunsWithoutKill++;
        if (count > 1) f.multiRunSteps++;
        f.maxExecutions = Math.max(f.maxExecutions, count);
      }
    }
  }
  f.lost = f.expected - f.terminal;
  f.settleAfterRestartMs = f.lastEndedAt ? Math.max(0, f.lastEndedAt - lastRestartAt) : null;
  return { figures: f, stuck };
}
