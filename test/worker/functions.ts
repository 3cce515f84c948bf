import { z } from "zod";
import { NonRetriableError, RetryAfterError, Stepflare } from "../../sdk";

/**
 * Functions the engine tests drive. Step functions record calls in a global
 * counter map (tests and the engine share one isolate), keyed by the event's
 * `tag`, so each test reads only its own counts.
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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const app = new Stepflare({
  id: "tests",
  schemas: {
    "test/typed": z.object({ n: z.number().int() }),
    // Schemas whose output cannot be an event's data: a BigInt has no JSON form, a number is not an object.
    "test/bigint-out": z.object({ n: z.number().int() }).transform((d) => ({ n: BigInt(d.n) })),
    // The SDK's types refuse a non-object output; plain JavaScript, or a cast, gets one past them.
    "test/scalar-out": z.object({ n: z.number().int() }).transform((d) => d.n) as unknown as z.ZodType<Record<string, unknown>>,
    // An object whose JSON is not an object: a Date is written as its ISO string.
    "test/date-out": z.object({ n: z.number().int() }).transform((d) => new Date(d.n)) as unknown as z.ZodType<Record<string, unknown>>,
  },
});

type TagData = { tag: string; [k: string]: unknown };

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

export const flaky = app.createFunction(
  {
    id: "flaky",
    triggers: [{ event: "test/flaky" }],
    retries: 4,
    onFailure: ({ event }) => void count((event.data as TagData).tag, "onFailure"),
  },
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

export const wildcard = app.createFunction({ id: "wildcard", triggers: [{ event: "wild/*" }] }, async ({ event }) => event.name);

/** With `wildcard`, a second subscriber of `wild/pair`: an event two functions fan out to. */
export const wildPair = app.createFunction(
  { id: "wild-pair", triggers: [{ event: "wild/pair" }] },
  async ({ event }) => `pair of ${event.name}`,
);

export const typed = app.createFunction({ id: "typed", triggers: [{ event: "test/typed" }] }, async ({ event }) => event.data.n * 2);

/** Returns outputs whose JSON is exactly `bytes` long: one alone (inline), one beside a sibling (queued). */
export const sized = app.createFunction({ id: "sized", triggers: [{ event: "test/sized" }], retries: 0 }, async ({ event, step }) => {
  const d = event.data as TagData & { bytes: number; parallel?: boolean };
  const make = () => "x".repeat(d.bytes - 2); // a JSON string adds two quotes
  if (!d.parallel) return (await step.run("big", make)).length;
  const [big] = await Promise.all([step.run("big", make), step.run("small", () => 1)]);
  return big.length;
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

export const siblingsFail = app.createFunction(
  {
    id: "siblings-fail",
    triggers: [{ event: "test/siblings-fail" }],
    retries: 1,
    onFailure: ({ event, error }) => {
      count((event.data as TagData).tag, "onFailure");
      count((event.data as TagData).tag, `onFailure:${error.message}`);
    },
  },
  async ({ event, step }) => {
    const d = event.data as TagData;
    await Promise.all(
      ["s1", "s2", "s3"].map((id) =>
        step.run(id, () => {
          count(d.tag, id);
          throw new Error(`${id} failed`);
        }),
      ),
    );
    return "unreachable";
  },
);

export const handlerFlaky = app.createFunction(
  { id: "handler-flaky", triggers: [{ event: "test/handler-flaky" }], retries: 3 },
  async ({ event, step, attempt }) => {
    const d = event.data as TagData & { failTimes: number };
    const v = await step.run("once", () => (count(d.tag, "once"), 1));
    count(d.tag, "handler");
    if (callsOf(d.tag, "handler") <= d.failTimes) throw new Error("outside any step");
    return { v, attempt };
  },
);

/** Fails its second step while the tag is "down": the dead-letter and replay scenario. */
export const replayable = app.createFunction(
  { id: "replayable", triggers: [{ event: "test/replayable" }], retries: 1 },
  async ({ event, step }) => {
    const d = event.data as TagData;
    const a = await step.run("first", () => (count(d.tag, "first"), "a"));
    const b = await step.run("second", () => {
      count(d.tag, "second");
      if (down.has(d.tag)) throw new Error("provider is down");
      return "b";
    });
    return a + b;
  },
);

/** One of three parallel steps fails twice before succeeding. */
export const parallelFlaky = app.createFunction(
  { id: "parallel-flaky", triggers: [{ event: "test/parallel-flaky" }] },
  async ({ event, step }) => {
    const d = event.data as TagData;
    return Promise.all(
      ["x", "y", "z"].map((id) =>
        step.run(id, () => {
          count(d.tag, id);
          if (id === "y" && callsOf(d.tag, "y") <= 2) throw new Error("y is flaky");
          return id;
        }),
      ),
    );
  },
);

/** A step whose promise never settles, alone (inline) or beside a sibling (queued). */
export const hangs = app.createFunction({ id: "hangs", triggers: [{ event: "test/hangs" }], retries: 0 }, async ({ event, step }) => {
  const d = event.data as TagData & { parallel?: boolean };
  const forever = () => new Promise<never>(() => {});
  if (!d.parallel) return step.run("stuck", forever);
  return Promise.all([step.run("stuck", forever), step.run("fine", () => 1)]);
});

/** Finishes a step, then awaits something outside any step that never settles; `retries` handler retries. */
export const idleHandler = app.createFunction(
  { id: "idle-handler", triggers: [{ event: "test/idle-handler" }], retries: 1 },
  async ({ event, step }) => {
    const d = event.data as TagData;
    await step.run("before", () => (count(d.tag, "before"), "ok"));
    count(d.tag, "hang");
    await new Promise<never>(() => {});
  },
);

/**
 * Fails at once unless its tag is "fixed"; its onFailure counts, then waits
 * while the tag is "down" (where a test evicts the object, or replays the run).
 */
export const slowOnFailure = app.createFunction(
  {
    id: "slow-on-failure",
    triggers: [{ event: "test/slow-on-failure" }],
    retries: 0,
    onFailure: async ({ event }) => {
      const tag = (event.data as TagData).tag;
      count(tag, "onFailure");
      while (down.has(tag)) await sleep(20);
    },
  },
  async ({ event, step }) => {
    await step.run("fails", () => {
      const tag = (event.data as TagData).tag;
      count(tag, "fails");
      if (!fixed.has(tag)) throw new NonRetriableError("fails for good");
    });
  },
);

/**
 * Two parallel steps: "fast" (no retries) fails at once while its tag is
 * down, failing the run; "slow" (one retry) decides when it starts whether it
 * will fail, then takes `slowMs`, so its result arrives after the run has
 * failed, and a replay can begin while it is still out.
 */
export const replayRace = app.createFunction(
  { id: "replay-race", triggers: [{ event: "test/replay-race" }], retries: 0 },
  async ({ event, step }) => {
    const d = event.data as TagData & { slowMs: number };
    return Promise.all([
      step.run({ id: "fast", retries: 0 }, () => {
        count(d.tag, "fast");
        if (down.has(d.tag)) throw new NonRetriableError("fast is down");
        return "fast";
      }),
      step.run({ id: "slow", retries: 1 }, async () => {
        count(d.tag, "slow");
        const failing = down.has(d.tag);
        await sleep(d.slowMs);
        if (failing) throw new Error("slow was down when it started");
        return "slow";
      }),
    ]);
  },
);

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

/**
 * Two subscribers of `test/fan-out`. This one's step waits while its tag is
 * "down", then fails unless the tag is "fixed"; the other has a step of its own.
 */
export const fanOutFails = app.createFunction(
  { id: "fan-out-fails", triggers: [{ event: "test/fan-out" }], retries: 2 },
  async ({ event, step }) => {
    const tag = (event.data as TagData).tag;
    return step.run("call", async () => {
      count(tag, "call");
      while (down.has(tag)) await sleep(20);
      if (!fixed.has(tag)) throw new Error("provider is down");
      return "called";
    });
  },
);

export const fanOutSibling = app.createFunction(
  { id: "fan-out-sibling", triggers: [{ event: "test/fan-out" }] },
  async ({ event, step }) => {
    const tag = (event.data as TagData).tag;
    count(tag, "sibling-handler");
    return step.run("work", () => (count(tag, "work"), "worked"));
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

export const allFunctions = [
  slowPrelude,
  fanOutFails,
  fanOutSibling,
  bigOutput,
  bigState,
  bigErrors,
  bigStateHeld,
  wildPair,
  reusedIdFails,
  nestedStep,
  fetchThenSave,
  replayRace,
  slowOnFailure,
  hangs,
  idleHandler,
  parallelFlaky,
  handlerFlaky,
  replayable,
  sequential,
  parallel,
  flaky,
  chains,
  wildcard,
  typed,
  sized,
  raceAndSettle,
  evictable,
  caught,
  siblingsFail,
];
