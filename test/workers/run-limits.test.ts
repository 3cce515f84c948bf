import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env, RunDetail } from "../../src";
import { api, sendEvents, settledRuns, waitFor } from "./helpers";

const testEnv = env as unknown as Env;
const stubOf = (runId: string) => testEnv.RUNS.get(testEnv.RUNS.idFromName(runId));
const MiB = 1024 * 1024;

/** The run's status and output as its object stores them, read without an RPC answer of its own. */
const storedRun = (runId: string) =>
  runInDurableObject(stubOf(runId), (_instance, ctx) =>
    ctx.storage.sql.exec<{ status: string; output: string | null }>("SELECT status, output FROM run").one(),
  );

const runIdOf = (eventId: string) =>
  waitFor(async () => {
    const { body } = await api<{ runs?: { id: string }[] }>(`/api/v1/events/${eventId}`);
    return body.runs?.[0]?.id;
  }, "the run");

describe("a run at its state limit", () => {
  it("runs parallel steps against 16 MiB of step outputs whose text is not Latin-1", async () => {
    // 16 outputs of 1 MiB - 3 bytes, and "a" and "b": 42 bytes under the limit. The event's text is not Latin-1 either.
    const data = { tag: "state-limit", n: 16, bytes: MiB - 3, note: "\u2019".repeat(100_000) };
    const [eventId] = await sendEvents({ name: "test/big-state", data });
    const runId = await runIdOf(eventId!);
    const run = await waitFor(async () => {
      const stored = await storedRun(runId);
      return stored.status === "running" ? undefined : stored;
    }, "the run to end");
    expect(run).toEqual({ status: "completed", output: '["a","b"]' });
  });

  it("fails the run and the step that passes it with run_state_too_large, naming the step", async () => {
    // 16 outputs of 1 MiB are the limit exactly; the 17th step's output passes it.
    const [eventId] = await sendEvents({ name: "test/big-state", data: { tag: "state-over", n: 17, bytes: MiB } });
    const [run] = await settledRuns(eventId!, 1, 30_000);
    expect(run!.error).toMatchObject({ code: "run_state_too_large", stepId: "s16" });
    expect(run!.steps.map((s) => s.status)).toEqual([...Array.from({ length: 16 }, () => "completed"), "failed"]);
    expect(run!.steps[16]).toMatchObject({ id: "s16", attempts: 1, error: { code: "run_state_too_large" } });
    const letter = await waitFor(async () => {
      const { body } = await api<{ deadLetters: { runId: string; stepKey: string | null }[] }>("/api/v1/dead-letters?functionId=big-state");
      return body.deadLetters.find((d) => d.runId === run!.id);
    }, "the dead letter");
    expect(letter.stepKey).toBe("s16");
  });

  it("answers its detail in full: every step's output of 1 MiB", async () => {
    const data = { tag: "state-limit-detail", n: 16, bytes: MiB - 3, note: "\u2019".repeat(100_000) };
    const [eventId] = await sendEvents({ name: "test/big-state", data });
    const runId = await runIdOf(eventId!);
    await waitFor(async () => ((await storedRun(runId)).status === "running" ? undefined : true), "the run to end");
    const { status, body } = await api<RunDetail>(`/api/v1/runs/${runId}`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ status: "completed", output: ["a", "b"] });
    expect(body.steps.map((s) => (s.output as string).length)).toEqual([...Array.from({ length: 16 }, () => MiB - 7), 1, 1]);
    expect((body.steps[0]!.output as string)[0]).toBe("\u2019");
  });

  it("answers the same detail over the API as its object's getDetail", async () => {
    const [eventId] = await sendEvents({ name: "test/race", data: { tag: "detail-same" } });
    const runId = await runIdOf(eventId!);
    await waitFor(async () => ((await storedRun(runId)).status === "running" ? undefined : true), "the run to end");
    const { body } = await api<RunDetail>(`/api/v1/runs/${runId}`);
    expect(body.steps.some((s) => s.error)).toBe(true);
    expect(body).toEqual(await stubOf(runId).getDetail());
  });
});
