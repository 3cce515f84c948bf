import { describe, expect, it } from "vitest";
import { formatDuration, layoutTimeline, STEPS_PER_PAGE, shownStepStatus, stepPage } from "./timeline";

describe("layoutTimeline", () => {
  it("puts sequential steps on one lane and overlapping ones on lanes of their own", () => {
    const t = layoutTimeline(
      [
        { index: 0, start: 0, end: 10 },
        { index: 1, start: 10, end: 30 },
        { index: 2, start: 12, end: 20 },
        { index: 3, start: 15, end: 40 },
        { index: 4, start: 30, end: 40 },
      ],
      100,
    );
    expect(t.bars.map((b) => b.lane)).toEqual([0, 0, 1, 2, 0]);
    expect(t.lanes).toBe(3);
    expect(t).toMatchObject({ from: 0, to: 40 });
    expect(t.bars[3]).toMatchObject({ x: 15 / 40, w: 25 / 40 });
  });

  it("draws a step still going up to now and leaves out steps not begun", () => {
    const t = layoutTimeline(
      [
        { index: 0, start: 100, end: undefined },
        { index: 1, start: undefined, end: undefined },
      ],
      160,
    );
    expect(t.bars).toEqual([{ index: 0, lane: 0, start: 100, end: 160, x: 0, w: 1, segments: [] }]);
    expect(t.nowX).toBe(1);
  });

  it("draws a sleep up to its wake time while it sleeps, and marks where now falls", () => {
    const t = layoutTimeline(
      [
        { index: 0, start: 0, end: 100 },
        { index: 1, start: 100, end: undefined, wakeAt: 1100 },
      ],
      300,
    );
    expect(t.bars[1]).toMatchObject({ lane: 0, start: 100, end: 1100, x: 100 / 1100, w: 1000 / 1100 });
    expect(t).toMatchObject({ from: 0, to: 1100, nowX: 300 / 1100 });
    // A sleep that wakes late runs on to now.
    expect(layoutTimeline([{ index: 0, start: 0, end: undefined, wakeAt: 50 }], 80).bars[0]).toMatchObject({ end: 80 });
  });

  it("ends a step cut off by the run's end there, not at now or its wake time, and marks no now", () => {
    const t = layoutTimeline(
      [
        { index: 0, start: 0, end: undefined, wakeAt: 10_000 },
        { index: 1, start: 5, end: undefined },
      ],
      900,
      40,
    );
    expect(t.bars.map((b) => b.end)).toEqual([40, 40]);
    expect(t.nowX).toBeUndefined();
  });

  it("cuts a bar into its failed attempts, the backoff between them, then the final outcome as a mark at the end", () => {
    const [bar] = layoutTimeline(
      [
        {
          index: 0,
          start: 0,
          end: 100,
          failedAttempts: [
            { start: 0, end: 10 },
            { start: 30, end: 40 },
          ],
        },
      ],
      500,
    ).bars;
    expect(bar!.segments).toEqual([
      { attempt: 0, start: 0, end: 10, x: 0, w: 0.1 },
      { attempt: 1, start: 30, end: 40, x: 0.3, w: 0.1 },
      { attempt: undefined, start: 100, end: 100, x: 1, w: 0 },
    ]);
  });

  it("ends a failed step with its last failed attempt, and starts an attempt with no start where the last ended", () => {
    const [bar] = layoutTimeline(
      [
        {
          index: 0,
          start: 0,
          end: 50,
          failedAttempts: [
            { start: 0, end: 10 },
            { start: undefined, end: 20 },
            { start: 40, end: 50 },
          ],
        },
      ],
      500,
    ).bars;
    expect(bar!.segments.map((s) => [s.attempt, s.start, s.end])).toEqual([
      [0, 0, 10],
      [1, 10, 20],
      [2, 40, 50],
    ]);
  });

  it("runs a step waiting for its retry, or cut off by its run, on from its last failed attempt", () => {
    const [bar] = layoutTimeline([{ index: 0, start: 0, end: undefined, failedAttempts: [{ start: 0, end: 10 }] }], 25).bars;
    expect(bar!.segments.map((s) => [s.attempt, s.start, s.end])).toEqual([
      [0, 0, 10],
      [undefined, 10, 25],
    ]);
    const [cut] = layoutTimeline([{ index: 0, start: 0, end: undefined, failedAttempts: [{ start: 0, end: 10 }] }], 99, 30).bars;
    expect(cut!.segments.map((s) => [s.attempt, s.start, s.end])).toEqual([
      [0, 0, 10],
      [undefined, 10, 30],
    ]);
  });

  it("answers no lanes for no steps", () => {
    expect(layoutTimeline([], 5)).toEqual({ bars: [], lanes: 0, from: 5, to: 5 });
  });
});

describe("shownStepStatus", () => {
  it("shows a cancelled run's unsettled steps as cancelled, and every other step as it is", () => {
    expect(["running", "sleeping", "retrying", "planned"].map((s) => shownStepStatus(s, "cancelled"))).toEqual(Array(4).fill("cancelled"));
    expect(shownStepStatus("completed", "cancelled")).toBe("completed");
    expect(shownStepStatus("failed", "cancelled")).toBe("failed");
    expect(shownStepStatus("sleeping", "sleeping")).toBe("sleeping");
    expect(shownStepStatus("running", "failed")).toBe("running");
  });
});

describe("formatDuration", () => {
  it("picks the largest readable unit", () => {
    expect([0, 850, 1000, 12_500, 192_000, 5 * 3_600_000, 36 * 3_600_000, 14 * 86_400_000].map(formatDuration)).toEqual([
      "0 ms",
      "850 ms",
      "1 s",
      "12.5 s",
      "3.2 min",
      "5 h",
      "36 h",
      "14 d",
    ]);
  });
});

describe("stepPage", () => {
  it("pages 1,000 steps in tens of pages and clamps the page asked for", () => {
    expect(stepPage(1000, 1)).toEqual({ page: 1, pages: 1000 / STEPS_PER_PAGE, first: 0, last: STEPS_PER_PAGE });
    expect(stepPage(1000, 99)).toMatchObject({ page: 10, first: 900, last: 1000 });
    expect(stepPage(1000, 0)).toMatchObject({ page: 1 });
    expect(stepPage(0, 3)).toEqual({ page: 1, pages: 1, first: 0, last: 0 });
    expect(stepPage(250, 3)).toMatchObject({ first: 200, last: 250 });
  });
});
