import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../../src";
import { callsOf } from "../worker/functions";
import { api, sendEvents, settledRuns, waitFor } from "./helpers";

const testEnv = env as unknown as Env;

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
