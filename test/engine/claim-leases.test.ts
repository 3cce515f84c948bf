import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../../src";
import { callsOf } from "../engine-fixture/functions";
import { backToDispatched, sendEvents, settledRuns, waitFor } from "./helpers";

// The test engine's claims lapse 5 s after their last renewal (test/engine-fixture/index.ts); its step timeout is 8 s.
const testEnv = env as unknown as Env;
const stubOf = (runId: string) => testEnv.RUNS.get(testEnv.RUNS.idFromName(runId));

const leaseOf = (runId: string, key: string) =>
  runInDurableObject(
    stubOf(runId),
    (_instance, ctx) =>
      ctx.storage.sql.exec<{ due_at: number }>("SELECT due_at FROM timers WHERE kind = 'step-lease' AND ref = ?", key).toArray()[0]?.due_at,
  );

describe("claim leases", () => {
  it("retries a claimed step whose claimer died within seconds, as an interrupted attempt, not after the step timeout", async () => {
    const [id] = await sendEvents({ name: "test/parallel", data: { tag: "deadclaimer", n: 2 } });
    const [done] = await settledRuns(id!);
    const runId = done!.id;
    const planSeq = await backToDispatched(runId);
    // A claimer that claims p0 and dies: it runs nothing and never renews.
    const claimedAt = Date.now();
    expect((await stubOf(runId).claimSteps(planSeq, [{ key: "p0", attempt: 1, gen: 0 }], "dead"))?.claimed).toEqual(["p0"]);
    const lease = await leaseOf(runId, "p0");
    expect(lease! - claimedAt).toBeLessThanOrEqual(5000 + 100);
    await waitFor(async () => (Date.now() > lease! ? true : undefined), "the lease to lapse");
    await runDurableObjectAlarm(stubOf(runId));
    const detail = await waitFor(async () => {
      const d = await stubOf(runId).getDetail();
      return d?.status === "completed" ? d : undefined;
    }, "the run to complete");
    expect(detail.steps.find((s) => s.id === "p0")).toMatchObject({ status: "completed", attempts: 2 });
    expect(Date.now() - claimedAt).toBeLessThan(8000); // well inside the 8 s step timeout
    expect(callsOf("deadclaimer", "p0")).toBe(2); // the first run of the event, and the retry
  });

  it("records the lapsed attempt's error as step_interrupted while the step waits for its retry", async () => {
    const [id] = await sendEvents({ name: "test/parallel", data: { tag: "lapsed", n: 2 } });
    const [done] = await settledRuns(id!);
    const runId = done!.id;
    const planSeq = await backToDispatched(runId);
    await stubOf(runId).claimSteps(planSeq, [{ key: "p0", attempt: 1, gen: 0 }], "dead");
    const lease = await leaseOf(runId, "p0");
    await waitFor(async () => (Date.now() > lease! ? true : undefined), "the lease to lapse");
    // The retry is due after the backoff; right after the lease fires, the step is retrying with the error.
    const step = await runInDurableObject(stubOf(runId), async (instance: { alarm(): Promise<void> }, ctx) => {
      await instance.alarm();
      return ctx.storage.sql.exec<{ status: string; error: string }>("SELECT status, error FROM steps WHERE key = 'p0'").one();
    });
    expect(step.status).toBe("retrying");
    expect(JSON.parse(step.error)).toMatchObject({ code: "step_interrupted" });
  });

  it("keeps a live claimer's claim past two leases by its renewals: a 6.5 s step runs once, in one attempt", async () => {
    const [id] = await sendEvents({ name: "test/parallel", data: { tag: "longstep", n: 2, delays: [6500, 0] } });
    const [run] = await settledRuns(id!, 1, 20_000);
    expect(run).toMatchObject({ status: "completed", output: [0, 1] });
    expect(run!.steps.find((s) => s.id === "p0")).toMatchObject({ status: "completed", attempts: 1 });
    expect(callsOf("longstep", "p0")).toBe(1);
  });

  it("refuses to renew a claim for another token, and renews the holder's no further than its deadline", async () => {
    const [id] = await sendEvents({ name: "test/parallel", data: { tag: "renewals", n: 2 } });
    const [done] = await settledRuns(id!);
    const runId = done!.id;
    const planSeq = await backToDispatched(runId);
    const claimedAt = Date.now();
    await stubOf(runId).claimSteps(planSeq, [{ key: "p0", attempt: 1, gen: 0 }], "mine");
    expect(await stubOf(runId).renewClaims("theirs", [{ key: "p0", attempt: 1 }])).toEqual([]);
    expect(await stubOf(runId).renewClaims("mine", [{ key: "p0", attempt: 2 }])).toEqual([]);
    expect(await stubOf(runId).renewClaims("mine", [{ key: "p0", attempt: 1 }])).toEqual(["p0"]);
    const deadline = await runInDurableObject(
      stubOf(runId),
      (_instance, ctx) => ctx.storage.sql.exec<{ deadline_at: number }>("SELECT deadline_at FROM steps WHERE key = 'p0'").one().deadline_at,
    );
    expect(deadline - claimedAt).toBeGreaterThanOrEqual(8000);
    expect(deadline - claimedAt).toBeLessThan(8000 + 1000);
    expect(await leaseOf(runId, "p0")).toBeLessThanOrEqual(deadline);
  });
});
