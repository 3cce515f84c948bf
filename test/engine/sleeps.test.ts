import { abortAllDurableObjects, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env, RunDetail } from "../../src";
import { callsOf } from "../engine-fixture/functions";
import { api, sendEvents, settledRuns, waitFor } from "./helpers";

const testEnv = env as unknown as Env;
const stubOf = (runId: string) => testEnv.RUNS.get(testEnv.RUNS.idFromName(runId));
const runIdOf = (eventId: string) =>
  waitFor(async () => (await api<{ runs?: { id: string }[] }>(`/api/v1/events/${eventId}`)).body.runs?.[0]?.id, "the run");
const detailOf = async (runId: string) => (await api<RunDetail>(`/api/v1/runs/${runId}`)).body;
const timersOf = (runId: string) =>
  runInDurableObject(stubOf(runId), (_instance, ctx) =>
    ctx.storage.sql.exec<{ kind: string; ref: string }>("SELECT kind, ref FROM timers ORDER BY kind").toArray(),
  );

describe("step.sleep", () => {
  it("sleeps between steps, shows the run sleeping with its wake time meanwhile, and resumes once", async () => {
    const [eventId] = await sendEvents({ name: "test/napper", data: { tag: "nap", duration: "1500ms" } });
    const runId = await runIdOf(eventId!);
    const asleep = await waitFor(async () => {
      const d = await detailOf(runId);
      return d.status === "sleeping" ? d : undefined;
    }, "the run to sleep");
    const nap = asleep.steps.find((s) => s.id === "nap") as RunDetail["steps"][number] & { wakeAt?: string; type?: string };
    expect(nap).toMatchObject({ status: "sleeping", type: "sleep" });
    // The wake time is taken when the handler reaches the sleep, the start a moment later when the engine records it.
    expect(Date.parse(nap.wakeAt!) - Date.parse(nap.startedAt!)).toBeGreaterThan(1450);
    expect(Date.parse(nap.wakeAt!) - Date.parse(nap.startedAt!)).toBeLessThanOrEqual(1500);
    // Listed as sleeping, and found by the status filter.
    const listed = await waitFor(async () => {
      const { body } = await api<{ runs: { id: string }[] }>("/api/v1/runs?status=sleeping&functionId=napper");
      return body.runs.some((r) => r.id === runId) ? true : undefined;
    }, "the listing to say sleeping");
    expect(listed).toBe(true);
    // A sleeping run keeps no lease: only the sleep's timer wakes its object.
    expect((await timersOf(runId)).map((t) => t.kind)).toEqual(["step-wake"]);

    const [run] = await settledRuns(eventId!, 1, 10_000);
    expect(run!.status).toBe("completed");
    expect((run!.output as { slept: number }).slept).toBeGreaterThanOrEqual(1500);
    expect(run!.steps.map((s) => [s.id, s.status])).toEqual([
      ["before", "completed"],
      ["nap", "completed"],
      ["after", "completed"],
    ]);
    expect([callsOf("nap", "before"), callsOf("nap", "after")]).toEqual([1, 1]);
  });

  it("wakes an object evicted while it slept, from its stored timer, without running finished steps again", async () => {
    const [eventId] = await sendEvents({ name: "test/napper", data: { tag: "evicted-nap", duration: 1000 } });
    const runId = await runIdOf(eventId!);
    await waitFor(async () => ((await detailOf(runId)).status === "sleeping" ? true : undefined), "the run to sleep");
    await abortAllDurableObjects();
    const [run] = await settledRuns(eventId!, 1, 10_000);
    expect(run!.status).toBe("completed");
    expect([callsOf("evicted-nap", "before"), callsOf("evicted-nap", "after")]).toEqual([1, 1]);
  });

  it("refuses a duration that is not one, or over a year, failing the run with invalid_duration", async () => {
    for (const [tag, duration] of [
      ["bad-unit", "5 fortnights"],
      ["negative", -1],
      ["over-a-year", "366d"],
      ["text", "soon"],
    ] as const) {
      const [eventId] = await sendEvents({ name: "test/napper", data: { tag, duration } });
      const [run] = await settledRuns(eventId!);
      expect(run, tag).toMatchObject({ status: "failed", error: { code: "invalid_duration" } });
    }
  });

  it("reads compound durations: 1h30m is an hour and a half", async () => {
    const [eventId] = await sendEvents({ name: "test/napper", data: { tag: "compound", duration: "1h30m" } });
    const runId = await runIdOf(eventId!);
    const asleep = await waitFor(async () => {
      const d = await detailOf(runId);
      return d.status === "sleeping" ? d : undefined;
    }, "the run to sleep");
    const nap = asleep.steps.find((s) => s.id === "nap") as { wakeAt?: string; startedAt?: string };
    expect(Date.parse(nap.wakeAt!) - Date.parse(nap.startedAt!)).toBeGreaterThan(90 * 60 * 1000 - 50);
    expect(Date.parse(nap.wakeAt!) - Date.parse(nap.startedAt!)).toBeLessThanOrEqual(90 * 60 * 1000);
  });
});

describe("step.sleepUntil", () => {
  it("wakes at an ISO time, and at once for a time already past", async () => {
    const at = new Date(Date.now() + 1000).toISOString();
    const [soon, past] = await sendEvents([
      { name: "test/sleeps-until", data: { tag: "until-iso", at } },
      { name: "test/sleeps-until", data: { tag: "until-past", at: Date.now() - 60_000 } },
    ]);
    const [late] = await settledRuns(soon!, 1, 10_000);
    expect(late!.status).toBe("completed");
    expect(late!.output as number).toBeGreaterThanOrEqual(Date.parse(at));
    const [early] = await settledRuns(past!, 1, 10_000);
    expect(early!.status).toBe("completed");
  });
});

describe("a sleep that loses a race", () => {
  it("ends the run with the winner and keeps no timer of the losing sleep", async () => {
    const [eventId] = await sendEvents({ name: "test/sleep-race", data: { tag: "race-sleep" } });
    const [run] = await settledRuns(eventId!);
    expect(run).toMatchObject({ status: "completed", output: "quick" });
    expect(await timersOf(run!.id)).toEqual([{ kind: "expire", ref: "run" }]);
  });
});
