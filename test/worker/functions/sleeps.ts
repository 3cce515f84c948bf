import { app } from "./app";
import { count, type TagData } from "./calls";

/* Sleeps: step.sleep and step.sleepUntil between steps, and a sleep that loses a race. */

/** A step, a sleep of `duration`, another step. */
export const napper = app.createFunction({ id: "napper", triggers: [{ event: "test/napper" }], retries: 0 }, async ({ event, step }) => {
  const d = event.data as TagData & { duration: number | string };
  const before = await step.run("before", () => (count(d.tag, "before"), Date.now()));
  await step.sleep("nap", d.duration);
  const after = await step.run("after", () => (count(d.tag, "after"), Date.now()));
  return { slept: after - before };
});

/** Sleeps until `at` (epoch ms or ISO text), then answers when it woke. */
export const sleepsUntil = app.createFunction(
  { id: "sleeps-until", triggers: [{ event: "test/sleeps-until" }], retries: 0 },
  async ({ event, step }) => {
    const d = event.data as TagData & { at: number | string };
    await step.sleepUntil("until", d.at);
    return step.run("woke", () => (count(d.tag, "woke"), Date.now()));
  },
);

/** A sleep of an hour against a quick step: the step wins, and the run ends with nothing left asleep. */
export const sleepRace = app.createFunction({ id: "sleep-race", triggers: [{ event: "test/sleep-race" }] }, async ({ event, step }) => {
  const d = event.data as TagData;
  return Promise.race([step.sleep("long", "1h").then(() => "slept"), step.run("quick", () => (count(d.tag, "quick"), "quick"))]);
});
