/** A step as the timeline needs it: its place in the run and its times, epoch ms (no start: not begun). */
export interface TimedStep {
  index: number;
  start: number | undefined;
  end: number | undefined;
}

export interface Bar {
  index: number;
  lane: number;
  start: number;
  end: number;
  /** Offset and width as fractions of the span, 0..1. */
  x: number;
  w: number;
}

export interface Timeline {
  bars: Bar[];
  lanes: number;
  from: number;
  to: number;
}

/** Steps shown per page of a run: a 1,000-step run is ten pages of readable bars, not one strip of slivers. */
export const STEPS_PER_PAGE = 100;

/**
 * Lays steps out on lanes: each goes on the first lane free at its start (a
 * lane is free once its last bar has ended), so steps that overlap in time
 * sit on lanes of their own and sequential steps share one. A step still
 * going ends at `now`. Steps not begun are left out.
 */
export function layoutTimeline(steps: TimedStep[], now: number): Timeline {
  const timed = steps
    .filter((s): s is TimedStep & { start: number } => s.start !== undefined)
    .map((s) => ({ index: s.index, start: s.start, end: Math.max(s.start, s.end ?? now) }))
    .sort((a, b) => a.start - b.start || a.index - b.index);
  if (timed.length === 0) return { bars: [], lanes: 0, from: now, to: now };
  const from = timed[0]!.start;
  const to = Math.max(...timed.map((s) => s.end));
  const span = Math.max(1, to - from);
  const laneEnds: number[] = [];
  const bars = timed.map((s) => {
    let lane = laneEnds.findIndex((end) => end <= s.start);
    if (lane === -1) lane = laneEnds.push(s.end) - 1;
    else laneEnds[lane] = s.end;
    return { ...s, lane, x: (s.start - from) / span, w: (s.end - s.start) / span };
  });
  return { bars: bars.sort((a, b) => a.index - b.index), lanes: laneEnds.length, from, to };
}

/** The page of steps to show: 1-based, clamped to the pages there are. */
export function stepPage(total: number, requested: number): { page: number; pages: number; first: number; last: number } {
  const pages = Math.max(1, Math.ceil(total / STEPS_PER_PAGE));
  const page = Math.min(pages, Math.max(1, Number.isSafeInteger(requested) ? requested : 1));
  const first = (page - 1) * STEPS_PER_PAGE;
  return { page, pages, first, last: Math.min(total, first + STEPS_PER_PAGE) };
}
