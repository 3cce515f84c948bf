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
import { callsOf, down, times } from "../worker/functions";
import worker from "../worker/index";
import { api, BASE, boundSizesOf, sendEvents, settledRuns, waitFor, withFailingMethod } from "./helpers";

const testEnv = env as unknown as Env;

type DeadLetter = {
  id: string;
  runId: string | null;
  functionId: string | null;
  stepKey: string | null;
  attempts: number;
  source: string;
  body?: unknown;
  error: { code?: string; message: string };
};

async function deadLettersOf(runId: string): Promise<DeadLetter[]> {
  const { body } = await api<{ deadLetters: DeadLetter[] }>(`/api/v1/dead-letters?limit=100`);
  return body.deadLetters.filter((d) => d.runId === runId);
}

describe("retries", () => {
  it("makes exactly 5 attempts with retries: 4, then fails the run, dead-letters it and calls onFailure once", async () => {
    const [id] = await sendEvents({ name: "test/flaky", data: { tag: "five", failTimes: 100 } });
    const [run] = await settledRuns(id!, 1, 20_000);
    expect(run!.status).toBe("failed");
    expect(run!.error).toMatchObject({ name: "Error", message: "boom 5", stepId: "flaky" });
    expect(run!.steps.find((s) => s.id === "flaky")).toMatchObject({ status: "failed", attempts: 5 });
    expect(callsOf("five", "flaky")).toBe(5);
    expect(callsOf("five", "before")).toBe(1);
    const letters = await waitFor(
      async () => ((await deadLettersOf(run!.id)).length ? deadLettersOf(run!.id) : undefined),
      "a dead letter",
    );
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ source: "run", functionId: "flaky", stepKey: "flaky", attempts: 5, error: { message: "boom 5" } });
    await waitFor(async () => (callsOf("five", "onFailure") ? true : undefined), "onFailure");
    await new Promise((r) => setTimeout(r, 500)); // room for a second call that should not come
    expect(callsOf("five", "onFailure")).toBe(1);
  });

  it("names the occurrence that failed the run in its dead letter when a step id is reused", async () => {
    const [id] = await sendEvents({ name: "test/reused-id-fails" });
    const [run] = await settledRuns(id!);
    expect(run!.steps.map((s) => [s.key, s.status, s.attempts])).toEqual([
      ["call", "failed", 1],
      ["call:1", "failed", 2],
    ]);
    const [letter] = await waitFor(async () => {
      const letters = await deadLettersOf(run!.id);
      return letters.length ? letters : undefined;
    }, "the dead letter");
    expect(letter).toMatchObject({ stepKey: "call:1", attempts: 2, error: { message: "second call failed" } });
  });

  it("backs off between attempts and resumes after the last finished step", async () => {
    const [id] = await sendEvents({ name: "test/flaky", data: { tag: "recover", failTimes: 2 } });
    const [run] = await settledRuns(id!);
    expect(run!.status).toBe("completed");
    expect(run!.output).toEqual({ before: "ok", value: "recovered" });
    expect(run!.steps.find((s) => s.id === "flaky")).toMatchObject({ attempts: 3, status: "completed" });
    expect(callsOf("recover", "before")).toBe(1);
    const t = times.get("recover:flaky")!;
    // Backoff base 50 ms with equal jitter: at least half the base before retry 1, half of 100 before retry 2.
    expect(t[1]! - t[0]!).toBeGreaterThanOrEqual(25);
    expect(t[2]! - t[1]!).toBeGreaterThanOrEqual(50);
  });

  it("makes one attempt for a NonRetriableError", async () => {
    const [id] = await sendEvents({ name: "test/flaky", data: { tag: "nonret", failTimes: 100, mode: "non-retriable" } });
    const [run] = await settledRuns(id!);
    expect(run!.status).toBe("failed");
    expect(run!.error).toMatchObject({ name: "NonRetriableError", message: "permanent" });
    expect(callsOf("nonret", "flaky")).toBe(1);
  });

  it("honours RetryAfterError's delay", async () => {
    const [id] = await sendEvents({ name: "test/flaky", data: { tag: "later", failTimes: 1, mode: "retry-after", retryAfterMs: 400 } });
    const [run] = await settledRuns(id!);
    expect(run!.status).toBe("completed");
    const t = times.get("later:flaky")!;
    expect(t).toHaveLength(2);
    expect(t[1]! - t[0]!).toBeGreaterThanOrEqual(400);
  });

  it("fails a step at once with invalid_retry_after when its RetryAfterError asks for more than 365 days", async () => {
    const retryAfterMs = 365 * 24 * 60 * 60 * 1000 + 1;
    const [id] = await sendEvents({ name: "test/flaky", data: { tag: "too-late", failTimes: 100, mode: "retry-after", retryAfterMs } });
    const [run] = await settledRuns(id!);
    expect(run!.status).toBe("failed");
    expect(run!.error).toMatchObject({ name: "StepflareError", code: "invalid_retry_after" });
    expect(callsOf("too-late", "flaky")).toBe(1);
  });

  it("retries the handler for an error thrown outside any step, without re-running finished steps", async () => {
    const [id] = await sendEvents({ name: "test/handler-flaky", data: { tag: "outside", failTimes: 2 } });
    const [run] = await settledRuns(id!);
    expect(run!.status).toBe("completed");
    expect(run!.output).toEqual({ v: 1, attempt: 2 });
    expect(run!.attempt).toBe(2);
    expect(callsOf("outside", "once")).toBe(1);
    expect(callsOf("outside", "handler")).toBe(3);
  });

  it("calls onFailure once and makes one dead letter when three parallel siblings fail", async () => {
    const [id] = await sendEvents({ name: "test/siblings-fail", data: { tag: "three" } });
    const [run] = await settledRuns(id!);
    expect(run!.status).toBe("failed");
    await waitFor(async () => (callsOf("three", "onFailure") ? true : undefined), "onFailure");
    await waitFor(async () => ((await deadLettersOf(run!.id)).length ? true : undefined), "the dead letter");
    await new Promise((r) => setTimeout(r, 500)); // room for a second call or letter that should not come
    expect(callsOf("three", "onFailure")).toBe(1);
    expect(await deadLettersOf(run!.id)).toHaveLength(1);
  });
});

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
        body: { v: 1, runId: "01AAAAAAAAAAAAAAAAAAAAAAAA", key: "x", attempt: 1, planSeq: 0, gen: 0 },
      },
      { id: "junk", timestamp: new Date(), attempts: 1, body: "not a step" as unknown },
      { id: "real", timestamp: new Date(), attempts: 1, body: { v: 1, runId: run!.id, key: "p0", attempt: 1, planSeq: 0, gen: 0 } },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, testEnv, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks).toEqual(["real"]);
    expect(result.retryMessages.map((m) => m.msgId).sort()).toEqual(["ghost", "junk"]);
  });

  it("records a poison message in the dead letters, with its queue and body, after its retries", async () => {
    const body = { v: 1 as const, runId: "01BBBBBBBBBBBBBBBBBBBBBBBB", key: "nowhere", attempt: 1, planSeq: 0, gen: 0 };
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

describe("replay", () => {
  it("re-runs a failed run from its failed step without re-running earlier steps, and keeps its history", async () => {
    down.add("rp1");
    const [id] = await sendEvents({ name: "test/replayable", data: { tag: "rp1" } });
    const [failed] = await settledRuns(id!);
    expect(failed!.status).toBe("failed");
    expect(callsOf("rp1", "second")).toBe(2);
    down.delete("rp1");
    const res = await api<{ status: string }>(`/api/v1/runs/${failed!.id}/replay`, { method: "POST" });
    expect(res).toMatchObject({ status: 200, body: { status: "running" } });
    const run = await waitFor(async () => {
      const { body } = await api<{ status: string; output?: unknown; replays?: unknown[]; steps: { id: string; attempts: number }[] }>(
        `/api/v1/runs/${failed!.id}`,
      );
      return body.status === "completed" ? body : undefined;
    }, "the replayed run to complete");
    expect(run.output).toBe("ab");
    expect(callsOf("rp1", "first")).toBe(1);
    expect(callsOf("rp1", "second")).toBe(3);
    expect(run.steps.find((s) => s.id === "second")).toMatchObject({ attempts: 1 });
    expect(run.replays).toEqual([
      { at: expect.any(String), from: "failed-step", previousError: expect.objectContaining({ message: "provider is down" }) },
    ]);
    const again = await api<{ error: { code: string } }>(`/api/v1/runs/${failed!.id}/replay`, { method: "POST" });
    expect(again).toMatchObject({ status: 409, body: { error: { code: "run_not_failed" } } });
  });

  it("ignores results from before a replay: a step still out when the run failed cannot settle the replayed attempt", async () => {
    down.add("race1");
    const [id] = await sendEvents({ name: "test/replay-race", data: { tag: "race1", slowMs: 700 } });
    const [failed] = await settledRuns(id!);
    expect(failed!.status).toBe("failed");
    expect(failed!.error).toMatchObject({ message: "fast is down" });
    expect(callsOf("race1", "slow")).toBe(1); // the first "slow" is still sleeping, and will fail
    down.delete("race1");
    const res = await api<{ status: string }>(`/api/v1/runs/${failed!.id}/replay`, { method: "POST" });
    expect(res.status).toBe(200);
    const run = await waitFor(async () => {
      const { body } = await api<{ status: string; output?: unknown; error?: unknown }>(`/api/v1/runs/${failed!.id}`);
      return body.status === "running" ? undefined : body;
    }, "the replayed run to end");
    expect(run).toMatchObject({ status: "completed", output: ["fast", "slow"] });
    expect(callsOf("race1", "slow")).toBe(2);
  });

  it("records a sibling's late failure on a failed run as final: no retry is scheduled for a run that has ended", async () => {
    down.add("late-sibling");
    const [id] = await sendEvents({ name: "test/replay-race", data: { tag: "late-sibling", slowMs: 300 } });
    const [failed] = await settledRuns(id!);
    expect(failed!.status).toBe("failed");
    type Detail = { steps: { id: string; status: string; attempts: number; error?: { message: string } }[] };
    // "slow" has a retry left, but its failure arrives after "fast" failed the run.
    const detail = await waitFor(async () => {
      const { body } = await api<Detail>(`/api/v1/runs/${failed!.id}`);
      return body.steps.find((s) => s.id === "slow")?.status === "running" ? undefined : body;
    }, "slow's late result");
    down.delete("late-sibling");
    expect(detail.steps.find((s) => s.id === "slow")).toMatchObject({
      status: "failed",
      attempts: 1,
      error: { message: "slow was down when it started" },
    });
    const timers = await runInDurableObject(testEnv.RUNS.get(testEnv.RUNS.idFromName(failed!.id)), (_instance, ctx) =>
      ctx.storage.sql
        .exec("SELECT kind FROM timers")
        .toArray()
        .map((r) => r.kind),
    );
    expect(timers).not.toContain("step-retry");
    expect(callsOf("late-sibling", "slow")).toBe(1);
  });

  it("fails a run at once with nested_step when a step's function calls step.run", async () => {
    const started = Date.now();
    const [id] = await sendEvents({ name: "test/nested-step" });
    const [run] = await settledRuns(id!);
    expect(run).toMatchObject({ status: "failed", error: { code: "nested_step", stepId: "outer" } });
    expect(run!.steps.map((s) => [s.id, s.status, s.attempts])).toEqual([["outer", "failed", 1]]);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it("bulk-replays a run only for a failure it chose: a run that has failed again since is left alone", async () => {
    down.add("superseded1");
    const [id] = await sendEvents({ name: "test/replayable", data: { tag: "superseded1" } });
    const [failed] = await settledRuns(id!);
    expect(failed!.status).toBe("failed");
    const current = await waitFor(async () => (await deadLettersOf(failed!.id))[0], "the run's dead letter");
    // A record of an earlier failure of the same run (version 1), landing late with a code of its own.
    const late = `${failed!.id}.1`;
    await testEnv.DB.prepare(
      "INSERT INTO dead_letters (id, source, run_id, run_version, function_id, step_key, attempts, error_name, error_message, error_code, failed_at) VALUES (?, 'run', ?, 1, 'replayable', 'second', 1, 'Error', 'earlier', 'late_code', ?)",
    )
      .bind(late, failed!.id, Date.now() - 1000)
      .run();
    down.delete("superseded1");
    const res = await api<{ replayed: number; skipped: number }>("/api/v1/dead-letters/replay", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ code: "late_code" }),
    });
    expect(res.body).toMatchObject({ replayed: 0, skipped: 1 });
    expect((await api<{ status: string }>(`/api/v1/runs/${failed!.id}`)).body.status).toBe("failed");
    type Letter = DeadLetter & { replayCount: number; replayedAt?: string };
    const letters = new Map((await deadLettersOf(failed!.id)).map((d) => [d.id, d as Letter]));
    expect(letters.get(late)).toMatchObject({ replayCount: 0, replayedAt: expect.any(String) });
    expect(letters.get(current.id)?.replayedAt).toBeUndefined();
  });

  it("replays from the start when asked", async () => {
    down.add("rp2");
    const [id] = await sendEvents({ name: "test/replayable", data: { tag: "rp2" } });
    const [failed] = await settledRuns(id!);
    down.delete("rp2");
    await api(`/api/v1/runs/${failed!.id}/replay`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ from: "start" }),
    });
    await waitFor(
      async () => ((await api<{ status: string }>(`/api/v1/runs/${failed!.id}`)).body.status === "completed" ? true : undefined),
      "completion",
    );
    expect(callsOf("rp2", "first")).toBe(2);
  });

  it("bulk-replays 50 failed runs to completion, and a second bulk replay runs nothing again", async () => {
    const tags = Array.from({ length: 50 }, (_, i) => `bulk${i}`);
    for (const t of tags) down.add(t);
    const ids = await sendEvents(tags.map((tag) => ({ name: "test/replayable", data: { tag } })));
    const runs = (await Promise.all(ids.map((id) => settledRuns(id, 1, 30_000)))).map((r) => r[0]!);
    expect(runs.every((r) => r.status === "failed")).toBe(true);
    await waitFor(
      async () => {
        const { body } = await api<{ deadLetters: DeadLetter[] }>(`/api/v1/dead-letters?functionId=replayable&limit=100`);
        const mine = body.deadLetters.filter((d) => runs.some((r) => r.id === d.runId));
        return mine.length === 50 ? true : undefined;
      },
      "50 dead letters",
      20_000,
    );
    for (const t of tags) down.delete(t);
    const first = await api<{ replayed: number; remaining: boolean }>(`/api/v1/dead-letters/replay`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ functionId: "replayable" }),
    });
    expect(first.status).toBe(200);
    expect(first.body.replayed).toBeGreaterThanOrEqual(50);
    const second = await api<{ replayed: number }>(`/api/v1/dead-letters/replay`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ functionId: "replayable" }),
    });
    expect(second.body.replayed).toBe(0);
    for (const r of runs) {
      await waitFor(
        async () => ((await api<{ status: string }>(`/api/v1/runs/${r.id}`)).body.status === "completed" ? true : undefined),
        `run ${r.id}`,
        20_000,
      );
    }
    for (const t of tags) {
      expect(callsOf(t, "first")).toBe(1);
      expect(callsOf(t, "second")).toBe(3);
    }
  });

  it("marks only the dead letters a bulk replay found: one recorded after the call began stays replayable", async () => {
    down.add("late1");
    const since = Date.now();
    const [id] = await sendEvents({ name: "test/replayable", data: { tag: "late1" } });
    const [failed] = await settledRuns(id!);
    expect(failed!.status).toBe("failed");
    const mine = async () => {
      const { body } = await api<{ deadLetters: (DeadLetter & { replayCount: number })[] }>(
        `/api/v1/dead-letters?functionId=replayable&since=${since}&limit=100`,
      );
      return body.deadLetters.filter((d) => d.runId === failed!.id);
    };
    await waitFor(async () => ((await mine()).length === 1 ? true : undefined), "the first dead letter");
    // The run's next failure, as if its record landed while the bulk call was still replaying other runs.
    await testEnv.DB.prepare(
      "INSERT INTO dead_letters (id, source, run_id, function_id, step_key, attempts, error_name, error_message, failed_at) VALUES (?, 'run', ?, 'replayable', 'second', 2, 'Error', 'provider is down', ?)",
    )
      .bind(`${failed!.id}.later`, failed!.id, Date.now() + 60_000)
      .run();
    const res = await api<{ replayed: number }>(`/api/v1/dead-letters/replay`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ functionId: "replayable", since }),
    });
    expect(res.body.replayed).toBe(1);
    const letters = await mine();
    expect(letters.map((d) => d.replayCount).sort()).toEqual([0, 1]);
    down.delete("late1");
  });

  it("reports a run whose object throws on bulk replay in `failed`, replays the rest, and marks only the dead letters of runs that replayed", async () => {
    const since = Date.now();
    const tags = ["partial-a", "partial-b", "partial-c"];
    for (const t of tags) down.add(t);
    const ids = await sendEvents([...tags, "partial-ok"].map((tag) => ({ name: "test/replayable", data: { tag } })));
    const [a, b, c, ok] = (await Promise.all(ids.map((id) => settledRuns(id)))).map((r) => r[0]!);
    expect([a, b, c, ok].map((r) => r!.status)).toEqual(["failed", "failed", "failed", "completed"]);
    type Letter = DeadLetter & { replayCount: number; replayedAt?: string };
    const ghost = "01GGGGGGGGGGGGGGGGGGGGGGGG";
    const mine = async () => {
      const { body } = await api<{ deadLetters: Letter[] }>(`/api/v1/dead-letters?functionId=replayable&since=${since}&limit=100`);
      return new Map(
        body.deadLetters.filter((d) => [a, b, c, ok].some((r) => r!.id === d.runId) || d.runId === ghost).map((d) => [d.runId!, d]),
      );
    };
    await waitFor(async () => ((await mine()).size === 3 ? true : undefined), "3 dead letters");
    // Dead letters whose runs cannot be replayed: one of a run that completed, one of a run that does not exist.
    for (const runId of [ok!.id, ghost]) {
      await testEnv.DB.prepare(
        "INSERT INTO dead_letters (id, source, run_id, function_id, step_key, attempts, error_name, error_message, failed_at) VALUES (?, 'run', ?, 'replayable', 'second', 2, 'Error', 'provider is down', ?)",
      )
        .bind(`${runId}.stale`, runId, Date.now())
        .run();
    }
    for (const t of tags) down.delete(t);
    const broken = testEnv.RUNS.idFromName(b!.id);
    const RUNS = withFailingMethod(testEnv.RUNS, broken, "replay", new Error("object reset; token=sekrit"));
    const replay = async (e: Env) => {
      const res = await worker.fetch(
        new Request(`${BASE}/api/v1/dead-letters/replay`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ functionId: "replayable", since, until: Date.now() + 1 }),
        }),
        e,
        createExecutionContext(),
      );
      return { status: res.status, text: await res.text() };
    };
    const first = await replay({ ...testEnv, RUNS });
    expect(first.status).toBe(200);
    expect(first.text).not.toContain("sekrit");
    const body = JSON.parse(first.text) as {
      replayed: number;
      skipped: number;
      runIds: string[];
      failed: { runId: string; message: string }[];
    };
    expect(body).toMatchObject({ replayed: 2, skipped: 2, remaining: false });
    expect([...body.runIds].sort()).toEqual([a!.id, c!.id].sort());
    expect(body.failed).toEqual([{ runId: b!.id, message: expect.stringContaining("calling again retries it") }]);
    let letters = await mine();
    expect([a, b, c, ok].map((r) => letters.get(r!.id)?.replayCount)).toEqual([1, 0, 1, 0]);
    expect(letters.get(ghost)).toMatchObject({ replayCount: 0 });
    expect(letters.get(ghost)?.replayedAt).toBeUndefined();
    expect(letters.get(b!.id)?.replayedAt).toBeUndefined();
    // The completed run was replayed since its stale letter: settled, with no replay counted, so no later call finds it.
    expect(letters.get(ok!.id)).toMatchObject({ replayCount: 0, replayedAt: expect.any(String) });
    const one = await worker.fetch(
      new Request(`${BASE}/api/v1/runs/${b!.id}/replay`, { method: "POST" }),
      { ...testEnv, RUNS },
      createExecutionContext(),
    );
    expect({ status: one.status, ...((await one.json()) as { error: object }) }).toMatchObject({
      status: 503,
      error: { code: "replay_failed" },
    });
    // Called again with the object answering: the run that failed to replay is retried; only the missing run's letter is found again.
    const second = JSON.parse((await replay(testEnv)).text) as typeof body;
    expect(second).toMatchObject({ replayed: 1, skipped: 1, runIds: [b!.id], failed: [] });
    letters = await mine();
    expect([a, b, c, ok].map((r) => letters.get(r!.id)?.replayCount)).toEqual([1, 1, 1, 0]);
    expect(letters.get(ghost)).toMatchObject({ replayCount: 0 });
    for (const r of [a, b, c]) {
      await waitFor(
        async () => ((await api<{ status: string }>(`/api/v1/runs/${r!.id}`)).body.status === "completed" ? true : undefined),
        `run ${r!.id}`,
      );
    }
  });

  it("goes past the runs a bulk replay chose with its cursor: runs that stay unreplayed cannot crowd out the rest", async () => {
    down.add("crowd1");
    const since = Date.now();
    const [id] = await sendEvents({ name: "test/replayable", data: { tag: "crowd1" } });
    const [failed] = await settledRuns(id!);
    expect(failed!.status).toBe("failed");
    await waitFor(async () => {
      const { body } = await api<{ deadLetters: DeadLetter[] }>(`/api/v1/dead-letters?functionId=replayable&since=${since}`);
      return body.deadLetters.some((d) => d.runId === failed!.id) ? true : undefined;
    }, "the dead letter");
    // Dead letters of runs that do not exist (ordered before any ULID): every call finds them, and none can replay.
    const ghost = testEnv.DB.prepare(
      "INSERT INTO dead_letters (id, source, run_id, run_version, function_id, error_name, error_message, failed_at) VALUES (?, 'run', ?, 1, 'replayable', 'Error', 'gone', ?)",
    );
    await testEnv.DB.batch(["0-ghost-a", "0-ghost-b"].map((run) => ghost.bind(`${run}.1`, run, Date.now())));
    down.delete("crowd1");
    type Bulk = { replayed: number; skipped: number; remaining: boolean; runIds: string[]; nextCursor: string | null };
    const bulk = (body: object) =>
      api<Bulk>(`/api/v1/dead-letters/replay`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        // `until`: an earlier test leaves a dead letter dated a minute ahead.
        body: JSON.stringify({ functionId: "replayable", since, until: Date.now() + 1000, limit: 2, ...body }),
      });
    const first = await bulk({});
    expect(first.body).toMatchObject({ replayed: 0, skipped: 2, remaining: true, nextCursor: expect.any(String) });
    expect((await bulk({})).body).toMatchObject({ replayed: 0, skipped: 2, remaining: true });
    const next = await bulk({ cursor: first.body.nextCursor });
    expect(next.body).toMatchObject({ replayed: 1, skipped: 0, remaining: false, runIds: [failed!.id], nextCursor: null });
    await waitFor(
      async () => ((await api<{ status: string }>(`/api/v1/runs/${failed!.id}`)).body.status === "completed" ? true : undefined),
      "the replayed run",
    );
    expect(await bulk({ cursor: "not-a-cursor" })).toMatchObject({ status: 400, body: { error: { code: "invalid_request" } } });
    expect(await bulk({ limit: 501 })).toMatchObject({ status: 400, body: { error: { code: "invalid_request" } } });
  });

  it("validates replay filters", async () => {
    const bad = await api(`/api/v1/dead-letters/replay`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ since: "yesterday" }),
    });
    expect(bad).toMatchObject({ status: 400, body: { error: { code: "invalid_request" } } });
  });
});

describe("the management API's key", () => {
  it("answers 401 without the key when one is configured, and 200 with it; never echoing it", async () => {
    const locked = { ...testEnv, STEPFLARE_DEV: undefined, API_KEY: "sekrit-api-key" } as Env;
    const call = (headers: Record<string, string> = {}) =>
      worker.fetch(new Request(`${BASE}/api/v1/runs`, { headers }), locked, createExecutionContext());
    const none = await call();
    expect(none.status).toBe(401);
    const wrong = await call({ authorization: "Bearer nope" });
    const wrongBody = await wrong.text();
    expect(wrong.status).toBe(401);
    expect(wrongBody).not.toContain("nope");
    expect(wrongBody).toContain("unauthorized");
    expect((await call({ authorization: "Bearer sekrit-api-key" })).status).toBe(200);
    // Outside dev mode with no key configured, the API stays closed.
    const unset = { ...testEnv, STEPFLARE_DEV: undefined, API_KEY: undefined } as Env;
    expect((await worker.fetch(new Request(`${BASE}/api/v1/runs`), unset, createExecutionContext())).status).toBe(401);
  });

  it("accepts only configured event keys outside dev mode, answering the same 401 whatever the reason", async () => {
    const locked = { ...testEnv, STEPFLARE_DEV: undefined, EVENT_KEYS: "key-one, key-two" } as Env;
    const send = (key: string, e: Env = locked) =>
      worker.fetch(
        new Request(`${BASE}/e/${key}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ name: "nobody/listens" }),
        }),
        e,
        createExecutionContext(),
      );
    // An unknown key, a prefix, a key with more after it, another case, the list itself; and any key with none configured.
    const refused = [
      ...(await Promise.all(["key-three", "key-on", "key-one-", "KEY-ONE", "key-one,key-two"].map((k) => send(k)))),
      await send("key-one", { ...locked, EVENT_KEYS: undefined }),
    ];
    const answers = await Promise.all(refused.map(async (r) => ({ status: r.status, text: await r.text() })));
    expect(answers[0]).toMatchObject({ status: 401, text: expect.stringContaining("unauthorized") });
    for (const a of answers) expect(a).toEqual(answers[0]);
    expect(answers[0]!.text).not.toMatch(/key-(one|two|three)/i);
    expect((await send("key-one")).status).toBe(200);
    expect((await send("key-two")).status).toBe(200);
  });
});

describe("step timeout", () => {
  it("fails an attempt that never settles with step_timeout, inline and dispatched, and a handler stuck outside any step with handler_timeout", async () => {
    const ids = await sendEvents([
      { name: "test/hangs", data: { tag: "hang-inline" } },
      { name: "test/hangs", data: { tag: "hang-queued", parallel: true } },
    ]);
    const [idleId] = await sendEvents({ name: "test/idle-handler", data: { tag: "idle" } });
    const idle = settledRuns(idleId!, 1, 25_000).then((r) => r[0]!);
    const runs = await Promise.all(ids.map((id) => settledRuns(id, 1, 25_000).then((r) => r[0]!)));
    for (const run of runs) {
      expect(run.status).toBe("failed");
      expect(run.error).toMatchObject({ code: "step_timeout", stepId: "stuck" });
      expect(run.steps.find((s) => s.id === "stuck")).toMatchObject({ status: "failed", attempts: 1 });
    }
    // Timed out twice (retries: 1), each attempt replaying the memoized step, never re-running it.
    const stuck = await idle;
    expect(stuck.status).toBe("failed");
    expect(stuck.error).toMatchObject({ name: "HandlerTimeoutError", code: "handler_timeout" });
    expect(callsOf("idle", "before")).toBe(1);
    expect(callsOf("idle", "hang")).toBe(2);
  }, 30_000);
});
