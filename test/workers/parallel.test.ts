import { abortAllDurableObjects, createExecutionContext, createMessageBatch, getQueueResult, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../../src";
import { callsOf } from "../worker/functions";
import worker from "../worker/index";
import { api, sendEvents, settledRuns, waitFor } from "./helpers";

const testEnv = env as unknown as Env;
const stubOf = (runId: string) => testEnv.RUNS.get(testEnv.RUNS.idFromName(runId));

describe("parallel steps", () => {
  it("runs two 300 ms steps at the same time", async () => {
    const [id] = await sendEvents({ name: "test/parallel", data: { tag: "two", n: 2, delays: [300, 300] } });
    const [run] = await settledRuns(id!);
    expect(run!.output).toEqual([0, 1]);
    const [a, b] = run!.steps;
    const span =
      Math.max(Date.parse(a!.endedAt!), Date.parse(b!.endedAt!)) - Math.min(Date.parse(a!.startedAt!), Date.parse(b!.startedAt!));
    expect(span).toBeGreaterThanOrEqual(300);
    expect(span).toBeLessThan(550);
  });

  it("runs a dispatched step once when a second message for the same attempt arrives while it runs", async () => {
    const [id] = await sendEvents({ name: "test/parallel", data: { tag: "dupclaim", n: 2, delays: [600, 600] } });
    const runId = await waitFor(async () => (await api<{ runs?: { id: string }[] }>(`/api/v1/events/${id}`)).body.runs?.[0]?.id, "the run");
    await waitFor(async () => (callsOf("dupclaim", "p0") > 0 ? true : undefined), "p0 to start");
    // As a lease re-dispatch or a duplicate delivery would send it: the same step, the same attempt.
    await testEnv.STEPS.send({ v: 1, runId, key: "p0", attempt: 1, planSeq: 0, gen: 0 });
    const stub = testEnv.RUNS.get(testEnv.RUNS.idFromName(runId));
    expect((await stub.claimSteps(0, [{ key: "p0", attempt: 1, gen: 0 }]))?.claimed).toEqual([]);
    const [run] = await settledRuns(id!);
    expect(run!.status).toBe("completed");
    expect(callsOf("dupclaim", "p0")).toBe(1);
    expect(run!.steps.find((s) => s.id === "p0")).toMatchObject({ attempts: 1, status: "completed" });
  });

  it("runs a dispatched step when its message comes again after the claim's answer was lost, and for no other message", async () => {
    const [id] = await sendEvents({ name: "test/parallel", data: { tag: "lostclaim", n: 2, delays: [0, 0] } });
    const [done] = await settledRuns(id!);
    expect(callsOf("lostclaim", "p0")).toBe(1);
    const runId = done!.id;
    // Back to the moment p0 was dispatched and p1 had completed: the run waits on p0's message.
    const planSeq = await runInDurableObject(stubOf(runId), (_instance, ctx) => {
      ctx.storage.sql.exec("UPDATE run SET status = 'running', output = NULL, ended_at = NULL");
      ctx.storage.sql.exec(
        `UPDATE steps SET status = 'running', output = NULL, ended_at = NULL, settle_seq = NULL,
         claimed_attempt = NULL, claim_message = NULL, claim_delivery = NULL WHERE key = 'p0'`,
      );
      return ctx.storage.sql.exec<{ plan_seq: number }>("SELECT plan_seq FROM steps WHERE key = 'p0'").one().plan_seq;
    });
    await abortAllDurableObjects();
    const claim = (message: string, attempt: number) =>
      stubOf(runId).claimSteps(planSeq, [{ key: "p0", attempt: 1, gen: 0, delivery: { message, attempt } }]);
    // Message m1's first delivery claims p0, and its consumer never hears back.
    expect((await claim("m1", 1))?.claimed).toEqual(["p0"]);
    // A duplicate of that delivery, or another message for the same attempt, is refused.
    expect((await claim("m1", 1))?.claimed).toEqual([]);
    expect((await claim("m2", 1))?.claimed).toEqual([]);
    // m1 delivered again, as its consumer's retry makes it: the steps consumer claims p0 again and runs it.
    const batch = createMessageBatch("stepflare-steps", [
      { id: "m1", timestamp: new Date(), attempts: 2, body: { v: 1, runId, key: "p0", attempt: 1, planSeq, gen: 0 } },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, testEnv, ctx);
    expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual(["m1"]);
    const detail = await waitFor(
      async () => {
        const d = await stubOf(runId).getDetail();
        return d?.status === "running" ? undefined : d;
      },
      "the run to complete",
      20_000,
    );
    expect(detail).toMatchObject({ status: "completed", output: [0, 1] });
    // Run by the redelivery, in the claimed attempt: not after that attempt timed out (8 s here).
    expect(detail!.steps.find((s) => s.id === "p0")).toMatchObject({ status: "completed", attempts: 1 });
    expect(callsOf("lostclaim", "p0")).toBe(2);
    expect(callsOf("lostclaim", "p1")).toBe(1);
  });

  it("gives a run object from before claim deliveries were recorded their columns, and keeps its journal", async () => {
    const [id] = await sendEvents({ name: "test/parallel", data: { tag: "oldschema", n: 2, delays: [0, 0] } });
    const [done] = await settledRuns(id!);
    await runInDurableObject(stubOf(done!.id), (_instance, ctx) => {
      ctx.storage.sql.exec("ALTER TABLE steps DROP COLUMN claim_message; ALTER TABLE steps DROP COLUMN claim_delivery");
    });
    await abortAllDurableObjects();
    const columns = await runInDurableObject(stubOf(done!.id), (_instance, ctx) =>
      ctx.storage.sql
        .exec<{ name: string }>("PRAGMA table_info(steps)")
        .toArray()
        .map((c) => c.name),
    );
    expect(columns).toEqual(expect.arrayContaining(["claimed_attempt", "claim_message", "claim_delivery"]));
    expect(await stubOf(done!.id).getDetail()).toMatchObject({ status: "completed", output: [0, 1] });
  });

  it("resumes with results in Promise.all order, not completion order", async () => {
    const [id] = await sendEvents({ name: "test/parallel", data: { tag: "order", n: 3, delays: [250, 120, 0] } });
    const [run] = await settledRuns(id!);
    expect(run!.output).toEqual([0, 1, 2]);
    const ends = run!.steps.map((s) => Date.parse(s.endedAt!));
    expect(ends[2]!).toBeLessThanOrEqual(ends[0]!);
  });

  it("completes 1,000 parallel steps with every result in order, and answers status promptly meanwhile", async () => {
    const [id] = await sendEvents({ name: "test/parallel", data: { tag: "thousand", n: 1000, delays: Array(1000).fill(150) } });
    const runId = await waitFor(async () => (await api<{ runs?: { id: string }[] }>(`/api/v1/events/${id}`)).body.runs?.[0]?.id, "the run");
    await waitFor(async () => (callsOf("thousand", "p0") > 0 ? true : undefined), "steps to start");
    const t0 = Date.now();
    const mid = await api<{ status: string }>(`/api/v1/runs/${runId}`);
    expect(Date.now() - t0).toBeLessThan(250);
    expect(mid.body.status).toBe("running");
    const [run] = await settledRuns(id!, 1, 60_000);
    expect(run!.status).toBe("completed");
    expect(run!.output).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(run!.steps.every((s) => s.status === "completed" && s.attempts === 1)).toBe(true);
  });

  it("lets independent chains progress independently", async () => {
    const [id] = await sendEvents({ name: "test/chains", data: { tag: "chains" } });
    const [run] = await settledRuns(id!);
    expect(run!.status).toBe("completed");
    const out = run!.output as { a: { a3: number }; b: { b2: number } };
    const b1 = run!.steps.find((s) => s.id === "b1")!;
    // Chain A finished its three steps while chain B's first step was still sleeping.
    expect(out.a.a3).toBeLessThan(Date.parse(b1.endedAt!));
    expect(out.b.b2).toBeGreaterThanOrEqual(Date.parse(b1.endedAt!));
  });

  it("gives Promise.race and Promise.allSettled their plain JavaScript meaning", async () => {
    const [id] = await sendEvents({ name: "test/race", data: {} });
    const [run] = await settledRuns(id!);
    expect(run!.output).toEqual({ winner: "fast", settled: ["fine", "NonRetriableError: nope"] });
  });

  it("rejects a failed step at its own await, so try/catch works", async () => {
    const [id] = await sendEvents({ name: "test/caught", data: {} });
    const [run] = await settledRuns(id!);
    expect(run!.status).toBe("completed");
    expect(run!.output).toEqual({ caught: "always", name: "Error" });
    expect(run!.steps[0]).toMatchObject({ status: "failed", attempts: 2 });
  });

  it("fails the run once when parallel siblings all fail", async () => {
    const [id] = await sendEvents({ name: "test/siblings-fail", data: { tag: "sib" } });
    const [run] = await settledRuns(id!);
    expect(run!.status).toBe("failed");
    expect(run!.error?.message).toMatch(/^s[123] failed$/);
    await new Promise((r) => setTimeout(r, 500));
    const letters = await testEnv.DB.prepare("SELECT count(*) AS n FROM dead_letters WHERE run_id = ?")
      .bind(run!.id)
      .first<{ n: number }>();
    expect(letters!.n).toBe(1);
  });
});

describe("retries in parallel", () => {
  it("retries one failing step without re-running its siblings", async () => {
    const [id] = await sendEvents({ name: "test/parallel-flaky", data: { tag: "pf" } });
    const [run] = await settledRuns(id!);
    expect(run!.status).toBe("completed");
    expect(run!.output).toEqual(["x", "y", "z"]);
    expect([callsOf("pf", "x"), callsOf("pf", "y"), callsOf("pf", "z")]).toEqual([1, 3, 1]);
    expect(run!.steps.map((s) => s.attempts)).toEqual([1, 3, 1]);
  });
});
