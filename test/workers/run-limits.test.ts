import { abortAllDurableObjects, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env, RunDetail } from "../../src";
import { callsOf, down } from "../worker/functions";
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

describe("a batch of step results in which one passes the state limit", () => {
  it("records the rest of the batch in the failed run, not leaving them running", async () => {
    // 16 outputs of 1 MiB - 1 byte: 16 bytes under the limit. "b" answers 20 bytes (passes it), then "a" its 3.
    const tag = "state-limit-batch";
    down.add(tag);
    try {
      const [eventId] = await sendEvents({ name: "test/big-state-held", data: { tag, n: 16, bytes: MiB - 1 } });
      const runId = await runIdOf(eventId!);
      const attempts = await waitFor(async () => {
        const steps = (await stubOf(runId).getDetail())?.steps ?? [];
        const a = steps.find((s) => s.key === "a");
        const b = steps.find((s) => s.key === "b");
        return a?.status === "running" && b?.status === "running" ? { a: a.attempts, b: b.attempts } : undefined;
      }, "a and b to be out");
      await stubOf(runId).completeSteps([
        { key: "b", attempt: attempts.b, ok: true, outputJson: JSON.stringify("b".repeat(18)) },
        { key: "a", attempt: attempts.a, ok: true, outputJson: '"a"' },
      ]);
      const detail = (await stubOf(runId).getDetail())!;
      expect(detail.error).toMatchObject({ code: "run_state_too_large", stepId: "b" });
      // "a" is recorded as it came, not left running: its 3 bytes fit beside what the run held before "b", whose
      // stored run_state_too_large error (the engine's, in place of the 20 bytes refused) takes no room from it.
      const [a, b] = ["a", "b"].map((key) => detail.steps.find((s) => s.key === key));
      expect(b).toMatchObject({ status: "failed", error: { code: "run_state_too_large" } });
      expect(a).toMatchObject({ status: "completed", output: "a" });
    } finally {
      down.delete(tag);
    }
  });
});

describe("a run whose caught step errors reach its state limit", () => {
  const limit = 16 * MiB;
  const utf8 = (s: string) => new TextEncoder().encode(s).byteLength;
  /** A thrown `{ name: "Error", message }` as its step stores it. */
  const errorBytes = (message: string) => utf8(JSON.stringify({ name: "Error", message }));
  /** A failed attempt's entry in its step's history: the message clipped to 1,024 characters, no stack. */
  const historyBytes = (message: string) => errorBytes(message.length > 1024 ? `${message.slice(0, 1024)}\u2026` : message);
  /** What one caught failure adds to the run's state: its error on the step, and its entry in the history. */
  const cost = (message: string) => errorBytes(message) + historyBytes(message);
  const curly = (n: number) => cost("\u2019".repeat(n));
  // 15 outputs of 1 MiB, then caught errors of up to 4,096 "’" filling the last MiB but the caught error of
  // "last", of about 3,000 "x"s: `atLimit` "x"s bring the run to its limit exactly. Three errors of 2,048 to
  // 4,096 "’" (each a multiple of 3 bytes) take up the rest; what 3 cannot divide goes to "last".
  const messages: number[] = [];
  // The test tears the object down while "gate" runs: its history keeps that attempt, interrupted.
  const gateInterrupted = utf8(
    JSON.stringify({
      name: "StepInterruptedError",
      message: `step "gate" was interrupted: its run's object stopped while it ran`,
      code: "step_interrupted",
    }),
  );
  let rest = MiB - cost("x".repeat(3000)) - gateInterrupted;
  while (rest - curly(4096) >= 3 * curly(2048)) {
    messages.push(4096);
    rest -= curly(4096);
  }
  const base = curly(2048) - 3 * 2048; // what an error of over 1,024 "’" costs beside its 3 bytes a character
  const spare = rest - 3 * base;
  const third = Math.floor(Math.floor(spare / 3) / 3);
  const adjusters = [third, third, Math.floor(spare / 3) - 2 * third];
  messages.push(...adjusters);
  const atLimit = 3000 + (spare % 3);

  /** The stored state of a run's steps and their history, counted in its own SQLite. */
  const storedState = (runId: string) =>
    runInDurableObject(stubOf(runId), (_instance, ctx) =>
      ctx.storage.sql
        .exec<{ steps: number }>(
          `SELECT (SELECT coalesce(sum(length(CAST(output AS BLOB))), 0) + coalesce(sum(length(CAST(error AS BLOB))), 0) FROM steps)
                + (SELECT coalesce(sum(length(CAST(error AS BLOB))), 0) FROM attempts) AS steps`,
        )
        .one(),
    );

  /**
   * Runs `big-errors` up to its gate; there, tears its object down, so the rest of the run goes on from what a new
   * instance counts on load.
   */
  async function gatedRun(tag: string, last: number, lastRetries: number): Promise<RunDetail> {
    down.add(tag);
    const data = { tag, outputs: 15, outputBytes: MiB, messages, last, lastRetries };
    const [eventId] = await sendEvents({ name: "test/big-errors", data });
    const runId = await runIdOf(eventId!);
    await waitFor(async () => (callsOf(tag, "gate") > 0 ? true : undefined), "the gate step to start", 30_000);
    await abortAllDurableObjects();
    down.delete(tag);
    await runDurableObjectAlarm(stubOf(runId));
    const [run] = await settledRuns(eventId!, 1, 30_000);
    return run!;
  }

  it("completes a run whose outputs and caught errors are its limit exactly, and counts them as stored", async () => {
    expect(atLimit).toBeGreaterThan(0);
    expect(atLimit).toBeLessThanOrEqual(4096); // no clipping: the message is stored whole
    for (const n of adjusters) expect(n).toBeGreaterThan(1024); // clipped in the history, as `cost` counts
    expect(messages.reduce((sum, n) => sum + curly(n), 0) + cost("x".repeat(atLimit)) + gateInterrupted).toBe(MiB);
    const run = await gatedRun("errors-at-limit", atLimit, 0);
    expect(run).toMatchObject({ status: "completed", output: "done" });
    expect(run.steps.at(-1)).toMatchObject({ id: "last", status: "failed", error: { message: "x".repeat(atLimit) } });
    expect(await storedState(run.id)).toEqual({ steps: limit });
  });

  it("fails the run one byte over with run_state_too_large, naming the step whose caught error passed it", async () => {
    const run = await gatedRun("errors-over-limit", atLimit + 1, 0);
    expect(run.status).toBe("failed");
    expect(run.error).toMatchObject({
      code: "run_state_too_large",
      stepId: "last",
      message: `step "last" would bring this run's stored outputs and errors to ${limit + 1} bytes; the limit is ${limit}`,
    });
    expect(run.steps.at(-1)).toMatchObject({ id: "last", status: "failed", attempts: 1, error: { code: "run_state_too_large" } });
  });

  it("fails the run one byte over on an attempt's error kept for a retry, without retrying", async () => {
    const run = await gatedRun("errors-over-on-retry", atLimit + 1, 1);
    expect(run.error).toMatchObject({ code: "run_state_too_large", stepId: "last" });
    expect(run.steps.at(-1)).toMatchObject({ id: "last", status: "failed", attempts: 1, error: { code: "run_state_too_large" } });
  });
});

describe("a run replayed again and again", () => {
  it("keeps each replay in a row of its own, so the run row does not grow with them", async () => {
    const tag = "replayed-often";
    down.add(tag);
    const [eventId] = await sendEvents({ name: "test/replayable", data: { tag } });
    const runId = await runIdOf(eventId!);
    const failed = () => waitFor(async () => ((await storedRun(runId)).status === "failed" ? true : undefined), "the run to fail", 20_000);
    const runRowBytes = () =>
      runInDurableObject(stubOf(runId), (_instance, ctx) =>
        Number(ctx.storage.sql.exec("SELECT length(CAST(coalesce(error, '') AS BLOB)) AS n FROM run").one().n),
      );
    await failed();
    const before = await runRowBytes();
    for (let i = 0; i < 3; i++) {
      expect((await api(`/api/v1/runs/${runId}/replay`, { method: "POST" })).status).toBe(200);
      await failed();
    }
    const detail = (await api<RunDetail>(`/api/v1/runs/${runId}`)).body;
    expect(detail.replays).toHaveLength(3);
    // One record's worth of growth is the fault: without rows of their own, three records were added.
    expect((await runRowBytes()) - before).toBeLessThan(JSON.stringify(detail.replays![0]).length);
    // A new instance reads the history back, and the run's generation goes on from it.
    await abortAllDurableObjects();
    down.delete(tag);
    expect((await api(`/api/v1/runs/${runId}/replay`, { method: "POST" })).status).toBe(200);
    await waitFor(async () => ((await storedRun(runId)).status === "completed" ? true : undefined), "the replay to complete");
    const done = (await api<RunDetail>(`/api/v1/runs/${runId}`)).body;
    expect(done.replays!.map((r) => r.previousError?.message)).toEqual(Array.from({ length: 4 }, () => "provider is down"));
  });
});
