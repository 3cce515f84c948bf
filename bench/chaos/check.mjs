/**
 * What the chaos run checks once the sending is over: every accepted
 * event's runs, polled from their objects until terminal, their outputs,
 * and how many times each step executed.
 */
import { sleep } from "./runtime.mjs";

const TERMINAL = new Set(["completed", "failed", "cancelled"]);
const FUNCTIONS = ["chaos-sequential", "chaos-parallel"];
const STEPS = { "chaos-sequential": ["add", "double", "add-three"], "chaos-parallel": ["p0", "p1", "p2", "p3"] };
const CONCURRENCY = 8;

/** The output each function's run must have for event `n` (bench/chaos/worker.ts). */
export function expectedOutput(functionId, n) {
  if (functionId === "chaos-sequential") return { n, total: (n + 1) * 2 + 3 };
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

/**
 * Polls until every event lists its two runs and every run's object answers
 * a terminal status, or `deadline` passes. Answers one entry per event:
 * `{ n, id, runs: Map<functionId, { id, listed, detail }> }`.
 */
export async function pollRuns(base, events, deadline, log) {
  const state = events.map((e) => ({ n: e.data.n, id: e.id, runs: new Map() }));
  const open = () =>
    state.filter((s) => s.runs.size < FUNCTIONS.length || [...s.runs.values()].some((r) => !TERMINAL.has(r.detail?.status)));
  for (let pass = 0; ; pass++) {
    const pending = open();
    if (pass % 10 === 0) log(`poll: ${pending.length} of ${state.length} events have runs not yet terminal`);
    if (pending.length === 0 || Date.now() > deadline) return state;
    await eachLimited(pending, CONCURRENCY, async (s) => {
      if (s.runs.size < FUNCTIONS.length) {
        const ev = await getJson(`${base}/api/v1/events/${encodeURIComponent(s.id)}`);
        if (ev.status !== 200) return;
        for (const r of ev.body.runs) s.runs.set(r.functionId, { id: r.id, listed: r.status, detail: undefined });
      }
      for (const r of s.runs.values()) {
        if (TERMINAL.has(r.detail?.status)) continue;
        const run = await getJson(`${base}/api/v1/runs/${encodeURIComponent(r.id)}`);
        if (run.status === 200) r.detail = run.body;
      }
    });
    await sleep(1_000);
  }
}

/** Reads each event's listing again: the runs' statuses as `GET /api/v1/events/:id` shows them. */
export async function relist(base, state) {
  await eachLimited(state, CONCURRENCY, async (s) => {
    const ev = await getJson(`${base}/api/v1/events/${encodeURIComponent(s.id)}`);
    if (ev.status !== 200) return;
    for (const r of ev.body.runs) {
      const run = s.runs.get(r.functionId);
      if (run) run.listed = r.status;
    }
  });
}

/** The figures of a polled state, with the step executions from `GET /chaos/calls`. */
export function tally(state, callRows, lastRestartAt) {
  const calls = new Map(callRows.map(([n, fn, step, count]) => [`${n}/${fn}/${step}`, count]));
  const f = { expected: state.length * FUNCTIONS.length, present: 0, terminal: 0, completed: 0, failed: 0, wrong: 0 };
  Object.assign(f, { extraExecutions: 0, multiRunSteps: 0, maxExecutions: 0, retriedSteps: 0, listedNotTerminal: 0, lastEndedAt: 0 });
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
      if (!TERMINAL.has(d?.status)) {
        stuck.push({ eventId: s.id, functionId, problem: "not terminal", detail: d ?? null });
        continue;
      }
      f.terminal++;
      if (!TERMINAL.has(run.listed)) f.listedNotTerminal++;
      f.lastEndedAt = Math.max(f.lastEndedAt, Date.parse(d.endedAt));
      if (d.status === "completed") f.completed++;
      if (d.status === "failed") f.failed++;
      if (d.status !== "completed" || JSON.stringify(d.output) !== JSON.stringify(expectedOutput(functionId, s.n))) f.wrong++;
      f.retriedSteps += d.steps.filter((st) => st.attempts > 1).length;
      const fn = functionId.replace("chaos-", "");
      for (const step of STEPS[functionId]) {
        const count = calls.get(`${s.n}/${fn}/${step}`) ?? 0;
        f.extraExecutions += Math.max(0, count - 1);
        if (count > 1) f.multiRunSteps++;
        f.maxExecutions = Math.max(f.maxExecutions, count);
      }
    }
  }
  f.lost = f.expected - f.terminal;
  f.settleAfterRestartMs = f.lastEndedAt ? Math.max(0, f.lastEndedAt - lastRestartAt) : null;
  return { figures: f, stuck };
}
