import { describe, expect, it } from "vitest";
import { Execution, type ExecutionOutcome, type FoundStep, type MemoEntry } from "./execution";
import type { HandlerContext } from "./types";

const silent = { info() {}, warn() {}, error() {}, debug() {} };

/** Runs a handler against memoized state until it blocks or settles; answers what it reported. */
async function drive(handler: (ctx: HandlerContext) => unknown, memo: Record<string, MemoEntry> = {}) {
  const batches: FoundStep[][] = [];
  let outcome: ExecutionOutcome | undefined;
  const exec = new Execution(
    handler,
    {
      event: { id: "e1", name: "t/e", data: {}, ts: 0 },
      env: {},
      runId: "r1",
      attempt: 0,
      logger: silent,
      memo: new Map(Object.entries(memo)),
    },
    { onFound: (steps) => batches.push(steps), onSettled: (o) => (outcome = o) },
  );
  exec.start();
  await new Promise((r) => setTimeout(r, 5));
  return { batches, keys: batches.map((b) => b.map((s) => s.key)), outcome, exec };
}

const done = (output: unknown): MemoEntry => ({ status: "completed", output });

describe("Execution against memoized state", () => {
  const cases: {
    name: string;
    handler: (ctx: HandlerContext) => unknown;
    memo: Record<string, MemoEntry>;
    keys: string[][];
    output?: unknown;
  }[] = [
    {
      name: "an empty journal: the first step is reported",
      handler: async ({ step }) => step.run("a", () => 1),
      memo: {},
      keys: [["a"]],
    },
    {
      name: "a memoized step resolves from the journal; the next one is reported",
      handler: async ({ step }) => {
        const a = await step.run("a", () => 1);
        return step.run("b", () => a + 1);
      },
      memo: { a: done(1) },
      keys: [["b"]],
    },
    {
      name: "every step memoized: the handler returns without reporting anything",
      handler: async ({ step }) => (await step.run("a", () => 0)) + (await step.run("b", () => 0)),
      memo: { a: done(2), b: done(3) },
      keys: [],
      output: 5,
    },
    {
      name: "a reused id gets keys id, id:1, id:2",
      handler: async ({ step }) => {
        for (let i = 0; i < 3; i++) await step.run("loop", () => i);
        return step.run("after", () => "x");
      },
      memo: { loop: done(0), "loop:1": done(1), "loop:2": done(2) },
      keys: [["after"]],
    },
    {
      name: "steps under Promise.all are reported together",
      handler: async ({ step }) => Promise.all([step.run("p", () => 1), step.run("q", () => 2), step.run("r", () => 3)]),
      memo: {},
      keys: [["p", "q", "r"]],
    },
    {
      name: "steps behind nested async helpers in one Promise.all are still one batch",
      handler: async ({ step }) => {
        const chain = async (name: string) => {
          await null;
          await Promise.resolve();
          const inner = async () => {
            await null;
            return step.run(name, () => name);
          };
          return inner();
        };
        return Promise.all([chain("x"), chain("y"), step.run("z", () => "z")]);
      },
      memo: {},
      keys: [["z", "x", "y"]],
    },
    {
      name: "a memoized parallel step lets its own chain move on",
      handler: async ({ step }) =>
        Promise.all([
          (async () => {
            await step.run("a1", () => 0);
            return step.run("a2", () => 0);
          })(),
          step.run("b1", () => 0),
        ]),
      memo: { a1: done(1) },
      keys: [["b1", "a2"]],
    },
  ];

  for (const c of cases) {
    it(c.name, async () => {
      const { keys, outcome } = await drive(c.handler, c.memo);
      expect(keys).toEqual(c.keys);
      if ("output" in c) expect(outcome).toEqual({ type: "returned", output: c.output });
      else if (c.keys.length > 0) expect(outcome).toBeUndefined();
    });
  }

  it("replays settlements in their first order, so a reused id reached after parallel steps names the same step", async () => {
    // First run: B's fetch (fetch:1) settled before A's, so B reached "save" first and A got "save:1".
    const handler = async ({ step }: HandlerContext) =>
      Promise.all(
        ["A", "B"].map(async (item) => {
          const got = await step.run("fetch", () => item);
          return step.run("save", () => `saved-${got}`);
        }),
      );
    const memo = {
      "fetch:1": { ...done("B"), seq: 1 },
      fetch: { ...done("A"), seq: 3 },
      save: { ...done("saved-B"), seq: 5 },
      "save:1": { ...done("saved-A"), seq: 7 },
    };
    const all = await drive(handler, memo);
    expect(all.outcome).toEqual({ type: "returned", output: ["saved-A", "saved-B"] });
    // A steps consumer replaying to run "save:1" (planned once both fetches had settled) finds A's save.
    const { batches } = await drive(handler, { "fetch:1": memo["fetch:1"], fetch: memo.fetch });
    const found = batches.flat();
    expect(found.map((f) => f.key)).toEqual(["save", "save:1"]);
    expect(found.map((f) => f.fn({ attempt: 0 }))).toEqual(["saved-B", "saved-A"]);
  });

  it("resumes results that settled during the replay in their settlements, letting each play out before the next", async () => {
    const handler = async ({ step }: HandlerContext) =>
      Promise.all([
        (async () => {
          await step.run("y1", () => 0);
          for (let i = 0; i < 5; i++) await null;
          return step.run("k", () => "from-y1");
        })(),
        (async () => {
          await step.run("y2", () => 0);
          return step.run("k", () => "from-y2");
        })(),
      ]);
    // A memoized step the handler never reaches keeps results waiting until it loses its turn.
    const keyed = async (seqs: [number, number]) => {
      const { batches } = await drive(handler, { gone: { ...done("x"), seq: 1 } });
      const [y1, y2] = batches[0]!;
      y1!.resolve(1, seqs[0]);
      y2!.resolve(2, seqs[1]);
      await new Promise((r) => setTimeout(r, 5));
      return Object.fromEntries(
        batches
          .slice(1)
          .flat()
          .map((f) => [f.key, f.fn({ attempt: 0 })]),
      );
    };
    // Two settlements: y1's branch reaches "k" before y2's result resumes the other.
    expect(await keyed([10, 12])).toEqual({ k: "from-y1", "k:1": "from-y2" });
    // One settlement: both resume together, and the shorter branch gets there first.
    expect(await keyed([10, 11])).toEqual({ k: "from-y2", "k:1": "from-y1" });
  });

  it("resolves a Promise.race over steps with the step that settled first", async () => {
    const { outcome } = await drive(
      async ({ step }) => {
        const winner = await Promise.race([step.run("slow", () => "slow"), step.run("fast", () => "fast")]);
        return step.run("after", () => winner).then(() => winner);
      },
      { fast: { ...done("fast"), seq: 1 }, slow: { ...done("slow"), seq: 3 }, after: { ...done("fast"), seq: 5 } },
    );
    expect(outcome).toEqual({ type: "returned", output: "fast" });
  });

  it("lets a memoized step the handler never reaches lose its turn instead of holding up the rest", async () => {
    const { outcome } = await drive(async ({ step }) => Promise.all([step.run("b", () => 0), step.run("c", () => 0)]), {
      gone: { ...done("x"), seq: 1 },
      b: { ...done(2), seq: 3 },
      c: { ...done(3), seq: 5 },
    });
    expect(outcome).toEqual({ type: "returned", output: [2, 3] });
  });

  it("refuses step.run inside another step's function with nested_step", async () => {
    const { batches } = await drive(async ({ step }) => step.run("outer", () => step.run("inner", () => 1)));
    const [outer] = batches.flat();
    expect(outer!.key).toBe("outer");
    expect(() => outer!.fn({ attempt: 0 })).toThrow(expect.objectContaining({ name: "StepflareError", code: "nested_step" }));
    const { batches: asyncBatches } = await drive(async ({ step }) =>
      step.run("outer", async () => {
        const inner = await step.run("inner", () => 1);
        return inner + 1;
      }),
    );
    await expect(asyncBatches.flat()[0]!.fn({ attempt: 0 })).rejects.toMatchObject({ code: "nested_step" });
  });

  it("never calls the function of a memoized step", async () => {
    let called = 0;
    await drive(async ({ step }) => step.run("a", () => ++called), { a: done(1) });
    expect(called).toBe(0);
  });

  it("rejects a failed step at its await with the stored name and message, catchably", async () => {
    const { outcome } = await drive(
      async ({ step }) => {
        try {
          await step.run("a", () => 1);
        } catch (e) {
          return { name: (e as Error).name, message: (e as Error).message, stepId: (e as { stepId: string }).stepId };
        }
      },
      { a: { status: "failed", error: { name: "TypeError", message: "bad" } } },
    );
    expect(outcome).toEqual({ type: "returned", output: { name: "TypeError", message: "bad", stepId: "a" } });
  });

  it("reports a throw outside any step as the handler's outcome", async () => {
    const { outcome } = await drive(async () => {
      throw new Error("outside");
    });
    expect(outcome?.type).toBe("threw");
  });

  it("continues when the engine settles a reported step", async () => {
    const { batches } = await drive(async ({ step }) => {
      const a = await step.run("a", () => 1);
      return step.run("b", () => a);
    });
    expect(batches.map((b) => b.map((s) => s.key))).toEqual([["a"]]);
    batches[0]![0]!.resolve(41);
    await new Promise((r) => setTimeout(r, 5));
    // The handler moved on with the settled value: "b" is reported, and its function sees it.
    expect(batches.map((b) => b.map((s) => s.key))).toEqual([["a"], ["b"]]);
    expect(batches[1]![0]!.fn({ attempt: 0 })).toBe(41);
  });

  it("refuses bad step ids and retries with a StepflareError, which is never retried", async () => {
    const bad = await drive(async ({ step }) => step.run("has:colon", () => 1));
    expect(bad.outcome?.type).toBe("threw");
    expect((bad.outcome as { error: Error }).error).toMatchObject({ name: "StepflareError", code: "invalid_step" });
    const lone = await drive(async ({ step }) => step.run("x\uD800", () => 1));
    expect((lone.outcome as { error: Error }).error).toMatchObject({ code: "invalid_step" });
    const notFn = await drive(async ({ step }) => step.run("a", 1 as unknown as () => number));
    expect((notFn.outcome as { error: Error }).error).toMatchObject({ code: "invalid_step" });
    const retries = await drive(async ({ step }) => step.run({ id: "r", retries: 21 }, () => 1));
    expect(retries.outcome?.type).toBe("threw");
    expect(String((retries.outcome as { error: Error }).error.message)).toContain("retries");
  });

  it("reports nothing more once abandoned", async () => {
    const batches: FoundStep[][] = [];
    const exec = new Execution(
      async ({ step }) => step.run("a", () => 1),
      { event: { id: "e", name: "n", data: {}, ts: 0 }, env: {}, runId: "r", attempt: 0, logger: silent, memo: new Map() },
      { onFound: (s) => batches.push(s), onSettled: () => batches.push([]) },
    );
    exec.start();
    exec.abandon();
    await new Promise((r) => setTimeout(r, 5));
    expect(batches).toEqual([]);
  });
});

describe("step.sleep and step.sleepUntil", () => {
  it("reports a sleep as a found step with its wake time, and a memoized sleep resolves without one", async () => {
    const before = Date.now();
    const first = await drive(async ({ step }) => {
      await step.sleep("nap", "2s");
      return step.run("after", () => 1);
    });
    expect(first.keys).toEqual([["nap"]]);
    const wake = first.batches[0]![0]!.until!;
    expect(wake - before).toBeGreaterThanOrEqual(2000);
    expect(wake - Date.now()).toBeLessThanOrEqual(2000);

    const woke = await drive(
      async ({ step }) => {
        await step.sleep("nap", "2s");
        return step.run("after", () => 1);
      },
      { nap: done(undefined) },
    );
    expect(woke.keys).toEqual([["after"]]);
    expect(woke.batches[0]![0]!.until).toBeUndefined();
  });

  it("takes sleepUntil's Date, ISO text and epoch milliseconds as the same time", async () => {
    const at = Date.now() + 60_000;
    for (const when of [new Date(at), new Date(at).toISOString(), at]) {
      const { batches } = await drive(async ({ step }) => step.sleepUntil("until", when));
      expect(batches[0]![0]!.until).toBe(at);
    }
  });

  it("throws invalid_duration from the call for a duration or time it cannot read", async () => {
    for (const call of [
      (s: HandlerContext["step"]) => s.sleep("x", "1 fortnight"),
      (s: HandlerContext["step"]) => s.sleep("x", Number.NaN),
      (s: HandlerContext["step"]) => s.sleep("x", "2y"),
      (s: HandlerContext["step"]) => s.sleepUntil("x", "March 7"),
      (s: HandlerContext["step"]) => s.sleepUntil("x", Date.now() + 400 * 24 * 3600 * 1000),
    ]) {
      const { outcome } = await drive(async ({ step }) => call(step));
      expect(outcome).toMatchObject({ type: "threw", error: { code: "invalid_duration" } });
    }
  });
});
