import { NonRetriableError } from "../../../sdk";
import { app } from "./app";
import { count, sleep, type TagData } from "./calls";

/* Step behaviour: sequential and parallel steps, races, eviction, reused ids, catch-ups. */

export const sequential = app.createFunction({ id: "sequential", triggers: [{ event: "test/sequential" }] }, async ({ event, step }) => {
  const d = event.data as TagData & { n?: number };
  count(d.tag, "handler");
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

export const chains = app.createFunction({ id: "chains", triggers: [{ event: "test/chains" }] }, async ({ event, step }) => {
  const d = event.data as TagData;
  const marks: Record<string, number> = {};
  const chainA = async () => {
    await step.run("a1", () => ((marks.a1 = Date.now()), "a1"));
    await step.run("a2", () => ((marks.a2 = Date.now()), "a2"));
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

export const raceAndSettle = app.createFunction({ id: "race", triggers: [{ event: "test/race" }] }, async ({ step }) => {
  const winner = await Promise.race([
    step.run("slow", async () => (await sleep(400), "slow")),
    step.run("fast", async () => (await sleep(20), "fast")),
  ]);
  const settled = await Promise.allSettled([
    step.run("ok", () => "fine"),
    step.run({ id: "bad", retries: 0 }, () => {
      throw new NonRetriableError("nope");
    }),
  ]);
  return { winner, settled: settled.map((s) => (s.status === "fulfilled" ? s.value : `${s.reason.name}: ${s.reason.message}`)) };
});

export const evictable = app.createFunction({ id: "evictable", triggers: [{ event: "test/evictable" }] }, async ({ event, step }) => {
  const d = event.data as TagData;
  const first = await step.run("first", () => (count(d.tag, "first"), "one"));
  const second = await step.run("second", async () => {
    count(d.tag, "second");
    await sleep(400);
    return "two";
  });
  const third = await step.run("third", () => (count(d.tag, "third"), "three"));
  return [first, second, third];
});

export const caught = app.createFunction({ id: "caught", triggers: [{ event: "test/caught" }] }, async ({ step }) => {
  try {
    await step.run({ id: "fails", retries: 1 }, () => {
      throw new Error("always");
    });
    return "unreachable";
  } catch (e) {
    return { caught: (e as Error).message, name: (e as Error).name };
  }
});

/**
 * Parallel branches that each fetch, then save under one reused step id: the
 * branch whose fetch finishes first reaches "save" first. `delays` and
 * `saveDelays` hold each item's fetch and save times in ms.
 */
export const fetchThenSave = app.createFunction(
  { id: "fetch-then-save", triggers: [{ event: "test/fetch-then-save" }], retries: 0 },
  async ({ event, step }) => {
    const d = event.data as TagData & { items: string[]; delays: number[]; saveDelays?: number[] };
    return Promise.all(
      d.items.map(async (item, i) => {
        const got = await step.run("fetch", async () => {
          await sleep(d.delays[i] ?? 0);
          return item;
        });
        return step.run("save", async () => {
          count(d.tag, `save-${got}`);
          await sleep(d.saveDelays?.[i] ?? 0);
          return `saved-${got}`;
        });
      }),
    );
  },
);

/** Slow work outside any step (an unwrapped fetch, say) before two parallel steps: every catch-up to the plan does it again. */
export const slowPrelude = app.createFunction(
  { id: "slow-prelude", triggers: [{ event: "test/slow-prelude" }], retries: 0 },
  async ({ event, step }) => {
    const d = event.data as TagData & { preludeMs: number };
    count(d.tag, "prelude");
    await sleep(d.preludeMs);
    return Promise.all([step.run("a", () => (count(d.tag, "a"), "a")), step.run("b", () => (count(d.tag, "b"), "b"))]);
  },
);

/** Calls step.run inside a step's function, which is refused. */
export const nestedStep = app.createFunction(
  { id: "nested-step", triggers: [{ event: "test/nested-step" }], retries: 2 },
  async ({ step }) => step.run("outer", () => step.run("inner", () => 1)),
);

/** Reuses a step id: its first occurrence fails and is caught, its second fails the run. */
export const reusedIdFails = app.createFunction(
  { id: "reused-id-fails", triggers: [{ event: "test/reused-id-fails" }], retries: 1 },
  async ({ step }) => {
    await step
      .run("call", () => {
        throw new NonRetriableError("first call refused");
      })
      .catch(() => null);
    return step.run("call", () => {
      throw new Error("second call failed");
    });
  },
);
