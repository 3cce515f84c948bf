import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../../src";
import type { ClaimRequest } from "../../src/run/rpc";
import type { StepResult } from "../../src/run/types";
import { callsOf } from "../engine-fixture/functions";
import worker from "../engine-fixture/index";
import { api, backToDispatched, sendEvents, settledRuns, waitFor } from "./helpers";

const testEnv = env as unknown as Env;
const stubOf = (runId: string) => testEnv.RUNS.get(testEnv.RUNS.idFromName(runId));

describe("parallel steps", () => {
  it("runs two 1 s steps at the same time", async () => {
    const [id] = await sendEvents({ name: "test/parallel", data: { tag: "two", n: 2, delays: [1000, 1000] } });
    const [run] = await settledRuns(id!);
    expect(run!.output).toEqual([0, 1]);
    const [a, b] = run!.steps;
    const span =
      Math.max(Date.parse(a!.endedAt!), Date.parse(b!.endedAt!)) - Math.min(Date.parse(a!.startedAt!), Date.parse(b!.startedAt!));
    // One after the other would take 2 s; the rest of the margin is for a loaded machine.
    expect(span).toBeGreaterThanOrEqual(1000);
    expect(span).toBeLessThan(1900);
  });

  it("runs a dispatched step once when a second message for the same attempt arrives while it runs", async () => {
    const [id] = await sendEvents({ name: "test/parallel", data: { tag: "dupclaim", n: 2, delays: [600, 600] } });
    const runId = await waitFor(async () => (await api<{ runs?: { id: string }[] }>(`/api/v1/events/${id}`)).body.runs?.[0]?.id, "the run");
    await waitFor(async () => (callsOf("dupclaim", "p0") > 0 ? true : undefined), "p0 to start");
    // As a lease re-dispatch or a duplicate delivery would send it: the same step, the same attempt.
    await testEnv.STEPS.send({ v: 1, runId, planSeq: 0, gen: 0, steps: [{ key: "p0", attempt: 1 }] });
    const stub = testEnv.RUNS.get(testEnv.RUNS.idFromName(runId));
    expect((await stub.claimSteps(0, [{ key: "p0", attempt: 1, gen: 0 }]))?.claimed).toEqual([]);
    const [run] = await settledRuns(id!);
    expect(run!.status).toBe("completed");
    expect(callsOf("dupclaim", "p0")).toBe(1);
    expect(run!.steps.find((s) => s.id === "p0")).toMatchObject({ attempts: 1, status: "completed" });
  });

  it("runs a dispatched step at once when a claim's answer is lost: the consumer asks again with its token, no one else may", async () => {
    const [id] = await sendEvents({ name: "test/parallel", data: { tag: "lostclaim", n: 2, delays: [0, 0] } });
    const [done] = await settledRuns(id!);
    const runId = done!.id;
    expect(callsOf("lostclaim", "p0")).toBe(1);

    // The claimer asking again gets the same answer; another claimer, or one without a token, is refused.
    let planSeq = await backToDispatched(runId);
    const claim = (token?: string) => stubOf(runId).claimSteps(planSeq, [{ key: "p0", attempt: 1, gen: 0 }], token);
    expect((await claim("t1"))?.claimed).toEqual(["p0"]);
    expect((await claim("t1"))?.claimed).toEqual(["p0"]);
    expect((await claim("t2"))?.claimed).toEqual([]);
    expect((await claim())?.claimed).toEqual([]);

    // Through the steps consumer: its first claim is made, but the answer never arrives.
    planSeq = await backToDispatched(runId);
    const tokens: (string | undefined)[] = [];
    const lossy = {
      ...testEnv,
      RUNS: {
        idFromName: (name: string) => testEnv.RUNS.idFromName(name),
        get: (objectId: DurableObjectId) => {
          const real = testEnv.RUNS.get(objectId);
          return {
            claimSteps: async (seq: number, requests: ClaimRequest[], token?: string) => {
              tokens.push(token);
              const answer = await real.claimSteps(seq, requests, token);
              if (tokens.length === 1) throw new Error("Network connection lost.");
              return answer;
            },
            completeSteps: (results: StepResult[]) => real.completeSteps(results),
          };
        },
      },
    } as unknown as Env;
    const batch = createMessageBatch("stepflare-steps", [
      { id: "m1", timestamp: new Date(), attempts: 1, body: { v: 1, runId, planSeq, gen: 0, steps: [{ key: "p0", attempt: 1 }] } },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, lossy, ctx);
    expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual(["m1"]);
    expect(tokens).toHaveLength(2);
    expect(tokens[1]).toBe(tokens[0]);
    const detail = await waitFor(async () => {
      const d = await stubOf(runId).getDetail();
      return d?.status === "running" ? undefined : d;
    }, "the run to complete");
    expect(detail).toMatchObject({ status: "completed", output: [0, 1] });
    // Run in the attempt it claimed, not after that attempt timed out (8 s here).
    expect(detail!.steps.find((s) => s.id === "p0")).toMatchObject({ status: "completed", attempts: 1 });
    expect(callsOf("lostclaim", "p0")).toBe(2);
    expect(callsOf("lostclaim", "p1")).toBe(1);
  });

  it("runs parallel steps after 6 s of work outside any step, each once, within the step timeout's allowance", async () => {
    // The step timeout here is 8 s; the catch-up to the plan does the 6 s again before it reaches the steps.
    const [id] = await sendEvents({ name: "test/slow-prelude", data: { tag: "prelude", preludeMs: 6000 } });
    const [run] = await settledRuns(id!, 1, 28_000);
    expect(run).toMatchObject({ status: "completed", output: ["a", "b"] });
    expect(run!.steps.map((s) => [s.id, s.status, s.attempts])).toEqual([
      ["a", "completed", 1],
      ["b", "completed", 1],
    ]);
    expect([callsOf("prelude", "a"), callsOf("prelude", "b")]).toEqual([1, 1]);
  }, 30_000);

  it("saves each item once when branches reach a reused step id in the order their fetches finished", async () => {
    // B's fetch ends first, so B's save is "save" and A's is "save:1"; A's is dispatched while B's is still out,
    // and the steps consumer's replay must reach A's save under that key.
    const [id] = await sendEvents({
      name: "test/fetch-then-save",
      data: { tag: "fetchsave", items: ["A", "B"], delays: [400, 0], saveDelays: [0, 800] },
    });
    const [run] = await settledRuns(id!);
    expect(run).toMatchObject({ status: "completed", output: ["saved-A", "saved-B"] });
    expect(callsOf("fetchsave", "save-A")).toBe(1);
    expect(callsOf("fetchsave", "save-B")).toBe(1);
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
    const letters = async () =>
      (await testEnv.DB.prepare("SELECT count(*) AS n FROM dead_letters WHERE run_id = ?").bind(run!.id).first<{ n: number }>())!.n;
    await waitFor(async () => ((await letters()) > 0 ? true : undefined), "the dead letter");
    await new Promise((r) => setTimeout(r, 500)); // room for a second one that should not come
    expect(await letters()).toBe(1);
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
