import { app } from "./app";
import { count, down, sleep, type TagData } from "./calls";

/* Limits: output and state sizes at their boundaries. */

/** Returns outputs whose JSON is exactly `bytes` long: one alone (inline), one beside a sibling (queued). */
export const sized = app.createFunction({ id: "sized", triggers: [{ event: "test/sized" }], retries: 0 }, async ({ event, step }) => {
  const d = event.data as TagData & { bytes: number; parallel?: boolean };
  const make = () => "x".repeat(d.bytes - 2); // a JSON string adds two quotes
  if (!d.parallel) return (await step.run("big", make)).length;
  const [big] = await Promise.all([step.run("big", make), step.run("small", () => 1)]);
  return big.length;
});

/** Returns a string output whose JSON is exactly `bytes` long; the event may carry a `pad` of its own size. */
export const bigOutput = app.createFunction({ id: "big-output", triggers: [{ event: "test/big-output" }], retries: 0 }, async ({ event }) =>
  "x".repeat((event.data as TagData & { bytes: number }).bytes - 2),
);

/**
 * `n` sequential steps, each an output of exactly `bytes` JSON bytes that
 * holds one "’" (so the text is not Latin-1), then two steps in parallel,
 * which the steps queue runs against that state.
 */
export const bigState = app.createFunction(
  { id: "big-state", triggers: [{ event: "test/big-state" }], retries: 0 },
  async ({ event, step }) => {
    const d = event.data as TagData & { n: number; bytes: number };
    for (let i = 0; i < d.n; i++) await step.run(`s${i}`, () => `\u2019${"x".repeat(d.bytes - 5)}`);
    return Promise.all([step.run("a", () => "a"), step.run("b", () => "b")]);
  },
);

/**
 * `outputs` sequential steps, each an output of exactly `outputBytes` JSON
 * bytes; then one caught failing step per entry of `messages`, each throwing
 * an error-shaped object whose message is that many "’" (stored, with no
 * stack, as `{"name":"Error","message":...}`); then a "gate" step that waits
 * while the tag is "down" and stores nothing; then one more caught failing
 * step, "last", whose message is `last` "x"s, allowed `lastRetries` retries.
 */
export const bigErrors = app.createFunction(
  { id: "big-errors", triggers: [{ event: "test/big-errors" }], retries: 0 },
  async ({ event, step }) => {
    const d = event.data as TagData & { outputs: number; outputBytes: number; messages: number[]; last: number; lastRetries: number };
    const fail = (message: string) => () => {
      throw { name: "Error", message };
    };
    for (let i = 0; i < d.outputs; i++) await step.run(`o${i}`, () => "x".repeat(d.outputBytes - 2));
    for (const [i, n] of d.messages.entries()) await step.run(`e${i}`, fail("\u2019".repeat(n))).catch(() => undefined);
    await step.run({ id: "gate", retries: 1 }, async () => {
      count(d.tag, "gate");
      while (down.has(d.tag)) await sleep(20);
    });
    await step.run({ id: "last", retries: d.lastRetries }, fail("x".repeat(d.last))).catch(() => undefined);
    return "done";
  },
);

/**
 * `n` sequential steps, each an output of exactly `bytes` JSON bytes, then
 * "a" and "b" in parallel (on the steps queue), each held while the tag is
 * "down" and then answering its own id.
 */
export const bigStateHeld = app.createFunction(
  { id: "big-state-held", triggers: [{ event: "test/big-state-held" }], retries: 0 },
  async ({ event, step }) => {
    const d = event.data as TagData & { n: number; bytes: number };
    for (let i = 0; i < d.n; i++) await step.run(`s${i}`, () => "x".repeat(d.bytes - 2));
    const held = (id: string) => async () => {
      while (down.has(d.tag)) await sleep(20);
      return id;
    };
    return Promise.all([step.run("a", held("a")), step.run("b", held("b"))]);
  },
);
