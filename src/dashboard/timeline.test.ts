import { describe, expect, it } from "vitest";
import { layoutTimeline, STEPS_PER_PAGE, stepPage } from "./timeline";

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
    expect(t.bars).toEqual([{ index: 0, lane: 0, start: 100, end: 160, x: 0, w: 1 }]);
  });

  it("answers no lanes for no steps", () => {
    expect(layoutTimeline([], 5)).toEqual({ bars: [], lanes: 0, from: 5, to: 5 });
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
