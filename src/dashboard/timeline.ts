/** A failed attempt of a step, epoch ms (no start: the engine did not keep it). */
export interface TimedAttempt {
  start: number | undefined;
  end: number;
}

/** A step as the timeline needs it: its place in the run and its times, epoch ms (no start: not begun). */
export interface TimedStep {
  index: number;
  start: number | undefined;
  end: number | undefined;
  /** A sleep's wake time: a sleep not yet ended is drawn up to it. */
  wakeAt?: number | undefined;
  /** Failed attempts, oldest first. */
  failedAttempts?: TimedAttempt[] | undefined;
}

/** Part of a bar: one failed attempt (`attempt`, 0-based in the step's failed attempts), or what came after the last one. */
export interface Segment {
  attempt: number | undefined;
  start: number;
  end: number;
  x: number;
  w: number;
}

export interface Bar {
  index: number;
  lane: number;
  start: number;
  end: number;
  /** Offset and width as fractions of the span, 0..1. */
  x: number;
  w: number;
  /** The bar cut into attempts, when the step had failed attempts; empty otherwise. */
  segments: Segment[];
}

export interface Timeline {
  bars: Bar[];
  lanes: number;
  from: number;
  to: number;
  /** Where "now" falls, 0..1, while the run is going and now is inside the span. */
  nowX?: number;
}

/** Steps shown per page of a run: a 1,000-step run is ten pages of readable bars, not one strip of slivers. */
export const STEPS_PER_PAGE = 100;

/**
 * Where a step's bar ends: its end; else, in a run that ended, the run's end
 * (the step was cut off); else a sleep's wake time (or now, if it wakes
 * late); else now.
 */
const barEnd = (s: TimedStep, now: number, runEnded: number | undefined): number =>
  s.end ?? runEnded ?? (s.wakeAt !== undefined ? Math.max(s.wakeAt, now) : now);

/**
 * Lays steps out on lanes: each goes on the first lane free at its start (a
 * lane is free once its last bar has ended), so steps that overlap in time
 * sit on lanes of their own and sequential steps share one. Steps not begun
 * are left out. A step with failed attempts has its bar cut into segments:
 * each failed attempt, then its outcome after them: a mark at its end if it
 * ended after them, or the rest of the bar while it is still going.
 */
export function layoutTimeline(steps: TimedStep[], now: number, runEnded?: number): Timeline {
  const timed = steps
    .filter((s): s is TimedStep & { start: number } => s.start !== undefined)
    .map((s) => ({ step: s, index: s.index, start: s.start, end: Math.max(s.start, barEnd(s, now, runEnded)) }))
    .sort((a, b) => a.start - b.start || a.index - b.index);
  if (timed.length === 0) return { bars: [], lanes: 0, from: now, to: now };
  const from = timed[0]!.start;
  const to = Math.max(...timed.map((s) => s.end));
  const span = Math.max(1, to - from);
  const place = (start: number, end: number) => ({ start, end, x: (start - from) / span, w: (end - start) / span });
  const laneEnds: number[] = [];
  const bars = timed.map(({ step, ...s }) => {
    let lane = laneEnds.findIndex((end) => end <= s.start);
    if (lane === -1) lane = laneEnds.push(s.end) - 1;
    else laneEnds[lane] = s.end;
    return { index: s.index, lane, ...place(s.start, s.end), segments: segmentsOf(step, s.start, s.end, place) };
  });
  const live = runEnded === undefined && now >= from && now <= to;
  return { bars: bars.sort((a, b) => a.index - b.index), lanes: laneEnds.length, from, to, ...(live ? { nowX: (now - from) / span } : {}) };
}

function segmentsOf(
  step: TimedStep,
  start: number,
  end: number,
  place: (start: number, end: number) => Omit<Segment, "attempt">,
): Segment[] {
  const attempts = step.failedAttempts ?? [];
  if (attempts.length === 0) return [];
  const clamp = (t: number) => Math.min(end, Math.max(start, t));
  let last = start;
  const segments: Segment[] = attempts.map((a, attempt) => {
    const s = clamp(a.start ?? last);
    last = clamp(a.end);
    return { attempt, ...place(s, Math.max(s, last)) };
  });
  // After the last failed attempt: a step that ended did so with its final attempt, whose start is not
  // known, so it is a mark at the end; a step still going (retrying or running) fills the rest.
  if (step.end !== undefined) {
    if (end > last) segments.push({ attempt: undefined, ...place(end, end) });
  } else if (end > last) segments.push({ attempt: undefined, ...place(last, end) });
  return segments;
}

/**
 * A step's status as the page shows it: in a cancelled run, a step that had
 * not settled was cut off with the run, whatever it was doing.
 */
export function shownStepStatus(step: string, run: string): string {
  return run === "cancelled" && step !== "completed" && step !== "failed" ? "cancelled" : step;
}

/** A duration in the largest unit that keeps it readable: `850 ms`, `12.5 s`, `3.2 min`, `5 h`, `14 d`. */
export function formatDuration(ms: number): string {
  const units: [number, string][] = [
    [86_400_000, "d"],
    [3_600_000, "h"],
    [60_000, "min"],
    [1000, "s"],
  ];
  for (const [size, unit] of units) {
    if (ms >= (unit === "d" ? 2 * size : size)) return `${Number((ms / size).toFixed(1))} ${unit}`;
  }
  return `${Math.round(ms)} ms`;
}

/** The page of steps to show: 1-based, clamped to the pages there are. */
export function stepPage(total: number, requested: number): { page: number; pages: number; first: number; last: number } {
  const pages = Math.max(1, Math.ceil(total / STEPS_PER_PAGE));
  const page = Math.min(pages, Math.max(1, Number.isSafeInteger(requested) ? requested : 1));
  const first = (page - 1) * STEPS_PER_PAGE;
  return { page, pages, first, last: Math.min(total, first + STEPS_PER_PAGE) };
}
