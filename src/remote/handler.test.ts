import { describe, expect, it } from "vitest";
import { StepFailedError, serializeError } from "../../sdk/internal";
import type { HandlerContext, StepTools } from "../../sdk/types";
import { remoteHandler } from "./handler";
import type { Answer, CallInput, Op } from "./protocol";
import type { RemoteTarget } from "./target";

const target: RemoteTarget = { appId: "app", url: "http://app.test/api/inngest?fnId=app-fn&stepId=step", slug: "app-fn", retries: 2 };

interface Call {
  stepId: string;
  steps: Record<string, unknown>;
  immediate: boolean;
  attempt: number;
}

/** Runs the handler against a scripted app (one answer per call, in order) and step tools that record what they were asked. */
async function drive(answers: ((c: Call) => Answer)[], options: { runAhead?: boolean; journal?: string[] } = {}) {
  const calls: Call[] = [];
  const tools: string[] = [];
  const step = {
    // As the engine's step.run: a step that throws fails with a StepFailedError (one attempt: the fake does not retry).
    run: async (o: { id: string; retries?: number }, fn: (c: { attempt: number }) => unknown) => {
      tools.push(o.retries === undefined ? `run ${o.id}` : `run ${o.id} retries ${o.retries}`);
      try {
        return await fn({ attempt: 0 });
      } catch (e) {
        throw new StepFailedError(o.id, serializeError(e));
      }
    },
    sleep: async (id: string, d: string) => void tools.push(`sleep ${id} ${d}`),
    sleepUntil: async (id: string, t: string) => void tools.push(`sleepUntil ${id} ${t}`),
    waitForEvent: async (id: string, o: unknown) => {
      tools.push(`wait ${id} ${JSON.stringify(o)}`);
      return { name: "x/ok", data: {} };
    },
    invoke: async (id: string, o: unknown) => {
      tools.push(`invoke ${id} ${JSON.stringify(o)}`);
      return { child: true };
    },
    sendEvent: async (id: string, events: unknown) => {
      tools.push(`send ${id} ${JSON.stringify(events)}`);
      return { ids: ["ev1"] };
    },
  } as unknown as StepTools;
  const handler = remoteHandler(target, {
    journal: new Set(options.journal ?? []),
    runAhead: options.runAhead ?? true,
    options: () => ({ signingKey: undefined, timeoutMs: 1000 }),
    call: async (_t, stepId, input: CallInput) => {
      const c = { stepId, steps: Object.fromEntries(input.steps), immediate: !input.disableImmediateExecution, attempt: input.attempt };
      calls.push(c);
      const answer = answers.shift();
      if (!answer) throw new Error(`unexpected call ${stepId}`);
      return answer(c);
    },
  });
  const ctx = {
    event: { name: "e", data: {} },
    events: [],
    runId: "R",
    attempt: 0,
    step,
    env: {},
    logger: console,
  } as unknown as HandlerContext;
  const out = await Promise.resolve(handler(ctx)).then(
    (v) => ({ ok: true as const, v }),
    (e: Error & { code?: string }) => ({ ok: false as const, e }),
  );
  return { out, calls, tools };
}

const ops = (...list: Op[]): Answer => ({ type: "ops", ops: list });
const result = (data: unknown): Answer => ({ type: "result", data });

describe("a remote function driven through the protocol", () => {
  it("takes a step the app ran in the discovery call as its first attempt, without calling again", async () => {
    const { out, calls, tools } = await drive([() => ops({ id: "h1", op: "StepRun", data: 7 }), () => result({ done: 7 })]);
    expect(out).toEqual({ ok: true, v: { done: 7 } });
    expect(tools).toEqual(["run h1"]);
    expect(calls.map((c) => [c.stepId, c.immediate, c.steps])).toEqual([
      ["step", true, {}],
      ["step", true, { h1: { data: 7 } }],
    ]);
  });

  it("runs steps planned together as separate step calls, each with its step id, then sends both outputs", async () => {
    const { out, calls, tools } = await drive([
      () => ops({ id: "b", op: "StepPlanned" }, { id: "c", op: "StepPlanned" }),
      () => ops({ id: "b", op: "StepRun", data: "B" }),
      () => ops({ id: "c", op: "StepRun", data: "C" }),
      () => result("end"),
    ]);
    expect(out).toEqual({ ok: true, v: "end" });
    expect(tools).toEqual(["run b", "run c"]);
    expect(calls.map((c) => c.stepId)).toEqual(["step", "b", "c", "step"]);
    expect(calls[1]!.immediate).toBe(false);
    expect(calls.at(-1)!.steps).toEqual({ b: { data: "B" }, c: { data: "C" } });
  });

  it("maps Sleep (a duration or a date), WaitForEvent and InvokeFunction onto the engine's tools, each settled as data", async () => {
    const { out, tools, calls } = await drive([
      () =>
        ops(
          { id: "s1", op: "Sleep", name: "1m30s" },
          { id: "s2", op: "Sleep", name: "2030-01-01T00:00:00.000Z" },
          { id: "w", op: "WaitForEvent", name: "x/ok", opts: { timeout: "1h", if: "event.data.id == async.data.id" } },
          { id: "i", op: "InvokeFunction", opts: { function_id: "other", payload: { data: { n: 1 } }, timeout: "5m" } },
        ),
      () => result(null),
    ]);
    expect(out.ok).toBe(true);
    expect(tools).toEqual([
      "sleep s1 1m30s",
      "sleepUntil s2 2030-01-01T00:00:00.000Z",
      'wait w {"event":"x/ok","timeout":"1h","if":"event.data.id == async.data.id"}',
      'invoke i {"function":"other","data":{"n":1},"timeout":"5m"}',
    ]);
    expect(calls.at(-1)!.steps).toEqual({
      s1: { data: null },
      s2: { data: null },
      w: { data: { name: "x/ok", data: {} } },
      i: { data: { child: true } },
    });
  });

  it("sends a SendEvent op's events as the engine's step.sendEvent, and gives a step its own retries", async () => {
    const { out, tools, calls } = await drive([
      () =>
        ops(
          { id: "t", op: "SendEvent", displayName: "tell", opts: { events: [{ name: "x/told", data: {} }] } },
          { id: "p", op: "StepPlanned", displayName: "plan", opts: { retries: 4 } },
        ),
      () => ops({ id: "p", op: "StepRun", data: 2 }),
      () => ops({ id: "r", op: "StepRun", displayName: "now", data: 3, opts: { retries: 0 } }),
      () => result("end"),
    ]);
    expect(out).toEqual({ ok: true, v: "end" });
    expect(tools).toEqual(['send tell t [{"name":"x/told","data":{}}]', "run plan p retries 4", "run now r retries 0"]);
    expect(calls[2]!.steps).toEqual({ t: { data: { ids: ["ev1"] } }, p: { data: 2 } });
    const bare = await drive([() => ops({ id: "t", op: "SendEvent" })]);
    expect(bare.out).toMatchObject({ ok: false, e: { code: "remote_protocol_error" } });
  });

  it("a step that failed in the call with Retry-After is retried no sooner", async () => {
    const { calls } = await drive([
      () => ({ ...ops({ id: "r", op: "StepError", error: { name: "Error", message: "busy" } }), retryAfterMs: 30_000 }),
      () => result(null),
    ]);
    // The engine's step.run got a RetryAfterError (its retry waits 30 s); the fake fails it at once and hands it back.
    expect(calls.at(-1)!.steps).toEqual({ r: { error: expect.objectContaining({ name: "RetryAfterError", message: "busy" }) } });
  });

  it("sends a step's final failure as its error state, for the app's code to catch or throw", async () => {
    const { calls } = await drive([
      () => ops({ id: "f", op: "StepFailed", error: { name: "TypeError", message: "bad" } }),
      () => result(1),
    ]);
    expect(calls.at(-1)!.steps).toEqual({
      f: { error: expect.objectContaining({ name: "NonRetriableError", message: "TypeError: bad" }) },
    });
  });

  it("a catch-up never lets the app run ahead: discovery disables immediate execution until the journal is caught up", async () => {
    const caught = await drive(
      [() => ops({ id: "h1", op: "StepPlanned" }), () => ops({ id: "h1", op: "StepRun", data: 1 }), () => result(1)],
      {
        journal: ["h1"],
      },
    );
    expect(caught.calls.map((c) => c.immediate)).toEqual([false, false, true]);
    const consumer = await drive([() => result(0)], { runAhead: false });
    expect(consumer.calls[0]!.immediate).toBe(false);
  });

  it("the app's errors: no-retry fails at once, Retry-After asks for its delay, others retry; a repeated settled step is non_deterministic", async () => {
    const error = { name: "Error", message: "boom" };
    const noRetry = await drive([() => ({ type: "error", status: 400, error, noRetry: true })]);
    expect(noRetry.out).toMatchObject({ ok: false, e: { name: "NonRetriableError", message: "Error: boom" } });
    // The function's own code is the run's: the engine's error carries it.
    const coded = await drive([() => ({ type: "error", status: 400, error: { ...error, code: "card_declined" }, noRetry: true })]);
    expect(coded.out).toMatchObject({ ok: false, e: { name: "NonRetriableError", code: "card_declined" } });
    const later = await drive([() => ({ type: "error", status: 500, error, noRetry: false, retryAfterMs: 5000 })]);
    expect(later.out).toMatchObject({ ok: false, e: { name: "RetryAfterError", retryAfterMs: 5000 } });
    const plain = await drive([() => ({ type: "error", status: 500, error, noRetry: false })]);
    expect(plain.out).toMatchObject({ ok: false, e: { name: "Error", message: "boom" } });
    const again = await drive([() => ops({ id: "h1", op: "StepRun", data: 1 }), () => ops({ id: "h1", op: "StepPlanned" })]);
    expect(again.out).toMatchObject({ ok: false, e: { code: "non_deterministic" } });
    // A step that failed with the engine's code (here: the app unreachable for its call) fails the run with it.
    const down = await drive([
      () => ops({ id: "s", op: "StepPlanned" }),
      () => {
        throw Object.assign(new Error("connection refused"), { code: "remote_unreachable" });
      },
    ]);
    expect(down.out).toMatchObject({ ok: false, e: { code: "remote_unreachable" } });
    // An AIGateway op without the request to make fails the run, as a broken answer.
    const noRequest = await drive([() => ops({ id: "ai", op: "AIGateway", opts: { type: "step.ai.infer" } })]);
    expect(noRequest.out).toMatchObject({ ok: false, e: { code: "remote_protocol_error" } });
    const unsupported = await drive([() => ops({ id: "g", op: "Gateway" })]);
    expect(unsupported.out).toMatchObject({ ok: false, e: { code: "remote_op_unsupported" } });
  });
});
