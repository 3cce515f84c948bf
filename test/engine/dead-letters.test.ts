// Dead letters: a failed run's record, and queue messages that exhausted their retries.
import {
  abortAllDurableObjects,
  createExecutionContext,
  createMessageBatch,
  getQueueResult,
  runDurableObjectAlarm,
  runInDurableObject,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../../src";
import { down } from "../engine-fixture/functions";
import worker from "../engine-fixture/index";
import { api, boundSizesOf, type DeadLetter, deadLettersOf, sendEvents, settledRuns, waitFor } from "./helpers";

const testEnv = env as unknown as Env;

describe("a failed run's dead letter", () => {
  const failedRun = async (tag: string) => {
    down.add(tag);
    const [id] = await sendEvents({ name: "test/replayable", data: { tag } });
    const [run] = await settledRuns(id!);
    expect(run!.status).toBe("failed");
    await waitFor(async () => ((await deadLettersOf(run!.id)).length === 1 ? true : undefined), "the dead letter");
    await new Promise((r) => setTimeout(r, 200)); // the object's alarm pass that sent it ends
    // The record is gone from D1: the local queue held it in memory, or its consumer ran out of retries.
    await testEnv.DB.prepare("DELETE FROM dead_letters WHERE run_id = ?").bind(run!.id).run();
    return run!;
  };

  it("serves the run's error with its stack, and holds the run's version in a column of its own", async () => {
    down.add("stack1");
    const [id] = await sendEvents({ name: "test/replayable", data: { tag: "stack1" } });
    const [run] = await settledRuns(id!);
    expect(run!.status).toBe("failed");
    const [letter] = await waitFor(async () => {
      const letters = await deadLettersOf(run!.id);
      return letters.length ? letters : undefined;
    }, "the dead letter");
    const { stack } = run!.error as { stack?: string };
    expect(stack).toContain("provider is down");
    expect(letter!.error).toEqual({ name: "Error", message: "provider is down", stack });
    const stored = await testEnv.DB.prepare("SELECT run_version FROM dead_letters WHERE id = ?")
      .bind(letter!.id)
      .first<{ run_version: number }>();
    expect(`${run!.id}.${stored!.run_version}`).toBe(letter!.id);
    down.delete("stack1");
  });

  it("is stored from its run object when the failures queue lost it after the send", async () => {
    const run = await failedRun("kept-after-send");
    const stub = () => testEnv.RUNS.get(testEnv.RUNS.idFromName(run.id));
    await runInDurableObject(stub(), (_instance, ctx) => {
      ctx.storage.sql.exec("UPDATE timers SET due_at = ?", Date.now());
    });
    await abortAllDurableObjects(); // a restart: the next instance reads its timers from storage
    expect(await runDurableObjectAlarm(stub())).toBe(true);
    const [letter] = await waitFor(async () => {
      const letters = await deadLettersOf(run.id);
      return letters.length ? letters : undefined;
    }, "the dead letter to be stored again");
    expect(letter).toMatchObject({ source: "run", functionId: "replayable", stepKey: "second", error: { message: "provider is down" } });
    down.delete("kept-after-send");
  });

  it("is stored, marked replayed, when the run is replayed before its send went out", async () => {
    const tag = "kept-on-replay";
    const run = await failedRun(tag);
    // As after a failed send: the dead letter's next try is far off.
    await runInDurableObject(testEnv.RUNS.get(testEnv.RUNS.idFromName(run.id)), (_instance, ctx) => {
      ctx.storage.sql.exec("DELETE FROM timers WHERE kind = 'dead-letter'");
      ctx.storage.sql.exec("INSERT INTO timers (kind, ref, due_at) VALUES ('dead-letter', 'run', ?)", Date.now() + 600_000);
    });
    await abortAllDurableObjects();
    down.delete(tag);
    expect((await api(`/api/v1/runs/${run.id}/replay`, { method: "POST" })).status).toBe(200);
    const letters = (await deadLettersOf(run.id)) as (DeadLetter & { replayCount: number; replayedAt?: string })[];
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({
      id: `${run.id}.2`,
      replayCount: 1,
      replayedAt: expect.any(String),
      error: { message: "provider is down" },
    });
    await waitFor(
      async () => ((await api<{ status: string }>(`/api/v1/runs/${run.id}`)).body.status === "completed" ? true : undefined),
      "the replayed run to complete",
    );
  });
});

describe("poison messages", () => {
  it("retries a steps message for a run that does not exist and acknowledges its batch siblings", async () => {
    const [id] = await sendEvents({ name: "test/parallel", data: { tag: "poison-sibling", n: 2 } });
    const [run] = await settledRuns(id!);
    const batch = createMessageBatch("stepflare-steps", [
      {
        id: "ghost",
        timestamp: new Date(),
        attempts: 1,
        body: { v: 1, runId: "01AAAAAAAAAAAAAAAAAAAAAAAA", planSeq: 0, gen: 0, steps: [{ key: "x", attempt: 1 }] },
      },
      { id: "junk", timestamp: new Date(), attempts: 1, body: "not a step" as unknown },
      {
        id: "real",
        timestamp: new Date(),
        attempts: 1,
        body: { v: 1, runId: run!.id, planSeq: 0, gen: 0, steps: [{ key: "p0", attempt: 1 }] },
      },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, testEnv, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks).toEqual(["real"]);
    expect(result.retryMessages.map((m) => m.msgId).sort()).toEqual(["ghost", "junk"]);
  });

  it("records a poison message in the dead letters, with its queue and body, after its retries", async () => {
    const body = { v: 1 as const, runId: "01BBBBBBBBBBBBBBBBBBBBBBBB", planSeq: 0, gen: 0, steps: [{ key: "nowhere", attempt: 1 }] };
    await testEnv.STEPS.send(body);
    const letter = await waitFor(async () => {
      const { body: page } = await api<{ deadLetters: DeadLetter[] }>(`/api/v1/dead-letters?code=poison_message&limit=100`);
      return page.deadLetters.find((d) => JSON.stringify(d.body) === JSON.stringify(body));
    }, "the poison message's dead letter");
    expect(letter).toMatchObject({ source: "stepflare-steps", runId: null, error: { code: "poison_message" } });
  });

  it("stores a dead-lettered batch whose bodies together pass what D1 binds at once, every row of it", async () => {
    const pad = "p".repeat(60 * 1024);
    const messages = Array.from({ length: 40 }, (_, i) => ({
      id: `big-poison-${i}`,
      timestamp: new Date(),
      attempts: 6,
      body: { v: 1, id: `big-poison-event-${i}`, acceptedAt: 1, event: { id: `big-poison-event-${i}`, name: "x/y", data: { pad }, ts: 1 } },
    }));
    const batch = createMessageBatch("stepflare-events-dlq", messages);
    const ctx = createExecutionContext();
    const sizes: number[] = [];
    await worker.queue(batch, { ...testEnv, DB: boundSizesOf(testEnv.DB, sizes) }, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.ackAll).toBe(true);
    expect(sizes.length).toBeGreaterThan(1); // split: 40 bodies of 60 KiB are over 2 MB together
    for (const size of sizes) expect(size).toBeLessThanOrEqual(1_900_000);
    const stored = await testEnv.DB.prepare(
      "SELECT count(*) AS n FROM dead_letters WHERE id LIKE 'stepflare-events-dlq.big-poison-%'",
    ).first<{ n: number }>();
    expect(stored!.n).toBe(40);
  });

  it("stores every poison body as valid JSON: undefined, a BigInt and a cycle included", async () => {
    const cycle: Record<string, unknown> = { name: "loop" };
    cycle.self = cycle;
    const bodies: Record<string, unknown> = {
      "odd-undefined": undefined,
      "odd-bigint": { n: 10n },
      "odd-cycle": cycle,
      "odd-plain": { a: [1] },
    };
    const batch = createMessageBatch(
      "stepflare-events-dlq",
      Object.entries(bodies).map(([id, body]) => ({ id, timestamp: new Date(), attempts: 6, body })),
    );
    const ctx = createExecutionContext();
    await worker.queue(batch, testEnv, ctx);
    expect((await getQueueResult(batch, ctx)).ackAll).toBe(true);
    const rows = (
      await testEnv.DB.prepare(
        "SELECT id, json_valid(body) AS valid, body FROM dead_letters WHERE id LIKE 'stepflare-events-dlq.odd-%' ORDER BY id",
      ).all<{ id: string; valid: number; body: string }>()
    ).results;
    expect(rows.map((r) => [r.id.replace("stepflare-events-dlq.", ""), r.valid, JSON.parse(r.body)])).toEqual([
      ["odd-bigint", 1, { n: "10" }],
      ["odd-cycle", 1, "[object Object]"],
      ["odd-plain", 1, { a: [1] }],
      ["odd-undefined", 1, "undefined"],
    ]);
  });

  it("retries each dead letter with a growing delay while D1 refuses the write", async () => {
    const failing = new Proxy(testEnv.DB, {
      get: (target, prop) =>
        prop === "prepare"
          ? () => ({ bind: () => ({ run: () => Promise.reject(new Error("D1 is down")) }) })
          : Reflect.get(target, prop, target),
    });
    const failure = (attempts: number) => ({
      id: `d1-down-${attempts}`,
      timestamp: new Date(),
      attempts,
      body: {
        v: 1,
        kind: "run-failed",
        id: `r.${attempts}`,
        runId: "r",
        functionId: "f",
        eventId: "e",
        runVersion: attempts,
        stepKey: null,
        attempts: 1,
        error: { name: "Error", message: "x" },
        failedAt: 1,
      },
    });
    const batch = createMessageBatch("stepflare-failures", [failure(1), failure(4), failure(10)]);
    // The test batch does not report retry delays, so note each one on its way to the real retry().
    const delays = new Map<string, number | undefined>();
    for (const m of batch.messages) {
      const retry = m.retry.bind(m);
      m.retry = (options?: QueueRetryOptions) => {
        delays.set(m.id, options?.delaySeconds);
        retry(options);
      };
    }
    const ctx = createExecutionContext();
    await worker.queue(batch, { ...testEnv, DB: failing }, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.ackAll).toBe(false);
    expect(result.retryMessages.map((m) => m.msgId).sort()).toEqual(["d1-down-1", "d1-down-10", "d1-down-4"]);
    expect(Object.fromEntries(delays)).toEqual({ "d1-down-1": 5, "d1-down-4": 40, "d1-down-10": 900 });
  });
});
