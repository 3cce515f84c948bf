/**
 * What the test functions record, and the switches tests flip. Step
 * functions count their calls here, keyed by the event's `tag`, so each test
 * reads only its own counts: tests and the engine share one isolate, which
 * is what lets a test see how often a step really ran.
 */
export const calls = new Map<string, number>();
/** When each counted call happened, for timing assertions. */
export const times = new Map<string, number[]>();
/** Per-tag switches a test flips to make a "provider" fail or recover. */
export const down = new Set<string>();
/** Tags whose failing step has been fixed, for a replay that should succeed. */
export const fixed = new Set<string>();
export const count = (tag: string, what: string) => {
  times.set(`${tag}:${what}`, [...(times.get(`${tag}:${what}`) ?? []), Date.now()]);
  return calls.set(`${tag}:${what}`, (calls.get(`${tag}:${what}`) ?? 0) + 1);
};
export const callsOf = (tag: string, what: string) => calls.get(`${tag}:${what}`) ?? 0;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every test event carries a tag naming its test. */
export type TagData = { tag: string; [k: string]: unknown };
