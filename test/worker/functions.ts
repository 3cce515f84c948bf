import { z } from "zod";
import { NonRetriableError, RetryAfterError, Stepflare } from "../../sdk";

/**
 * Functions the engine tests drive. Step functions record calls in a global
 * counter map (tests and the engine share one isolate), keyed by the event's
 * `tag`, so each test reads only its own counts.
 */
export const calls = new Map<string, number>();
export const count = (tag: string, what: string) => calls.set(`${tag}:${what}`, (calls.get(`${tag}:${what}`) ?? 0) + 1);
export const callsOf = (tag: string, what: string) => calls.get(`${tag}:${what}`) ?? 0;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const app = new Stepflare({
  id: "tests",
  schemas: { "test/typed": z.object({ n: z.number().int() }) },
});

type TagData = { tag: string; [k: string]: unknown };

export const sequential = app.createFunction({ id: "sequential", triggers: [{ event: "test/sequential" }] }, async ({ event, step }) => {
  const d = event.data as TagData & { n?: number };
  const out: number[] = [];
  for (let i = 0; i < (d.n ?? 3); i++) {
    out.push(await step.run("add", () => (count(d.tag, `add`), i * 2)));
  }
  return out;
});

export const parallel = app.createFunction({ id: "parallel", triggers: [{ event: "test/parallel" }] }, async ({ event, step }) => {
  const d = event.data as TagData & { n: number; delays?: number[] };
  const results = await Promise.all(
    Array.from({ length: d.n }, (_, i) =>
      step.run(`p${i}`, async () => {
        count(d.tag, `p${i}`);
        const delay = d.delays?.[i] ?? 0;
        if (delay) await sleep(delay);
        return i;
      }),
    ),
  );
  return results;
});

export const flaky = app.createFunction(
  { id: "flaky", triggers: [{ event: "test/flaky" }], retries: 4 },
  async ({ event, step }) => {
    const d = event.data as TagData & { failTimes: number; mode?: "plain" | "non-retriable" | "retry-after"; retryAfterMs?: number };
    const before = await step.run("before", () => (count(d.tag, "before"), "ok"));
    const value = await step.run("flaky", () => {
      count(d.tag, "flaky");
      if (callsOf(d.tag, "flaky") <= d.failTimes) {
        if (d.mode === "non-retriable") throw new NonRetriableError("permanent");
        if (d.mode === "retry-after") throw new RetryAfterError("later", d.retryAfterMs ?? 300);
        throw new Error(`boom ${callsOf(d.tag, "flaky")}`);
      }
      return "recovered";
    });
    return { before, value };
  },
);

export const chains = app.createFunction({ id: "chains", triggers: [{ event: "test/chains" }] }, async ({ event, step }) => {
  const d = event.data as TagData;
  const marks: Record<string, number> = {};
  const chainA = async () => {
    await step.run("a1", () => (marks.a1 = Date.now(), "a1"));
    await step.run("a2", () => (marks.a2 = Date.now(), "a2"));
    return step.run("a3", () => ({ a3: Date.now() }));
  };
  const chainB = async () => {
    await step.run("b1", async () => {
      await sleep(600);
      return "b1";
    });
    return step.run("b2", () => ({ b2: Date.now() }));
  };
  const [a, b] = await Promise.all([chainA(), chainB()]);
  void d;
  return { a, b };
});

export const wildcard = app.createFunction({ id: "wildcard", triggers: [{ event: "wild/*" }] }, async ({ event }) => event.name);

export const typed = app.createFunction({ id: "typed", triggers: [{ event: "test/typed" }] }, async ({ event }) => event.data.n * 2);

export const allFunctions = [sequential, parallel, flaky, chains, wildcard, typed];
