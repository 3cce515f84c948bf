import { describe, expect, it } from "vitest";
import { NonRetriableError } from "./errors";
import { defineFunction } from "./function";
import { serve } from "./serve";
import { sha1Hex } from "./sha1";
import { signatureHeader, verifySignature } from "./signature";
import type { HandlerContext } from "./types";

const silent = { info() {}, warn() {}, error() {}, debug() {} };
const KEY = `signkey-test-${"ab12".repeat(16)}`;
const DEV = { STEPFLARE_DEV: "true" };
const event = { id: "e1", name: "t/e", data: { orderId: "o1" }, ts: 0 };

let ran: string[] = [];
/** Records that a step ran, and answers its output. */
const record = <T>(name: string, output: T): T => {
  ran.push(name);
  return output;
};
const fn = (id: string, handler: (ctx: HandlerContext) => unknown) =>
  defineFunction({ id, triggers: [{ event: "t/e" }], retries: 2 }, handler);

const functions = [
  fn("sequential", async ({ step }) => {
    const a = await step.run("a", () => record("a", 1));
    const b = await step.run("b", () => record("b", a + 1));
    return { a, b };
  }),
  fn("pair", async ({ step }) => {
    const [x, y] = await Promise.all([step.run("x", () => record("x", "x")), step.run("x", () => record("x:1", "y"))]);
    return [x, y];
  }),
  fn("tools", async ({ step }) => {
    await Promise.all([
      step.sleep("nap", "1h"),
      step.waitForEvent("paid", { event: "t/paid", match: "data.orderId", timeout: "1d" }),
      step.invoke("child", { function: "other", data: { n: 1 } }),
    ]);
  }),
  fn("failing", async ({ step, attempt }) => {
    await step.run("flaky", () => {
      throw attempt < 1 ? new Error("flaky") : new NonRetriableError("final");
    });
  }),
  fn("refusing", async () => {
    throw new NonRetriableError("no", { code: "card_declined" });
  }),
  fn("notify", async ({ step }) => {
    const sent = await step.sendEvent("tell", [{ name: "t/told", data: { n: 1 } }]);
    return await step.run({ id: "after", retries: 5 }, () => record("after", sent.ids));
  }),
];

const handler = serve({ client: { id: "billing" }, functions, logger: silent });

/** One call as the engine makes it: settled steps by hashed key, in the order they settled. */
async function call(
  fnId: string,
  steps: [string, unknown][] = [],
  opts: { stepId?: string; attempt?: number; env?: object; lazy?: boolean } = {},
) {
  const hashed = steps.map(([key, data]) => [sha1Hex(key), { data }] as const);
  const body = JSON.stringify({
    event,
    events: [event],
    steps: Object.fromEntries(hashed),
    ctx: {
      run_id: "r1",
      attempt: opts.attempt ?? 0,
      disable_immediate_execution: opts.lazy ?? false,
      stack: { stack: hashed.map(([h]) => h) },
    },
  });
  const url = `https://billing.binding/?fnId=${fnId}&stepId=${opts.stepId ?? "step"}`;
  const res = await handler(new Request(url, { method: "POST", body }), opts.env ?? DEV);
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> & Record<number, never> };
}

describe("serve: the protocol's answers for a memo", () => {
  it("runs a lone new step at once, then the next, then answers the result; no step runs twice", async () => {
    ran = [];
    expect(await call("sequential")).toMatchObject({ status: 206, body: [{ op: "StepRun", id: sha1Hex("a"), data: 1 }] });
    expect(await call("sequential", [["a", 1]])).toMatchObject({ status: 206, body: [{ op: "StepRun", id: sha1Hex("b"), data: 2 }] });
    expect(
      await call("sequential", [
        ["a", 1],
        ["b", 2],
      ]),
    ).toMatchObject({ status: 200, body: { a: 1, b: 2 } });
    expect(ran).toEqual(["a", "b"]);
  });

  it("plans steps found together, keyed id then id:1, and runs the one a step call names", async () => {
    ran = [];
    const planned = await call("pair");
    expect(planned).toMatchObject({
      status: 206,
      body: [
        { op: "StepPlanned", id: sha1Hex("x"), displayName: "x" },
        { op: "StepPlanned", id: sha1Hex("x:1"), displayName: "x" },
      ],
    });
    expect(await call("pair", [], { stepId: sha1Hex("x:1"), attempt: 1 })).toMatchObject({ body: [{ op: "StepRun", data: "y" }] });
    expect(ran).toEqual(["x:1"]);
    expect(
      await call("pair", [
        ["x:1", "y"],
        ["x", "x"],
      ]),
    ).toMatchObject({ status: 200, body: ["x", "y"] });
  });

  it("answers a sleep, a wait and an invoke as their ops", async () => {
    const before = Date.now();
    const { body } = await call("tools");
    const [nap, paid, child] = body as unknown as { op: string; name?: string; opts?: Record<string, unknown> }[];
    expect(nap?.op).toBe("Sleep");
    expect(Date.parse(nap!.name!) - before).toBeGreaterThanOrEqual(3600_000 - 10);
    expect(paid).toMatchObject({ op: "WaitForEvent", name: "t/paid", opts: { if: "event.data.orderId == async.data.orderId" } });
    expect(paid?.opts?.timeout).toMatch(/^\d+ms$/);
    expect(child).toMatchObject({ op: "InvokeFunction", opts: { function_id: "other", payload: { data: { n: 1 } } } });
  });

  it("a failing step answers StepError, then StepFailed when it is final; a final function error is a 400 with no retry", async () => {
    expect(await call("failing")).toMatchObject({ status: 206, body: [{ op: "StepError", error: { message: "flaky" } }] });
    const final = await call("failing", [], { stepId: sha1Hex("flaky"), attempt: 1 });
    expect(final).toMatchObject({ body: [{ op: "StepFailed", error: { name: "NonRetriableError", message: "final" } }] });
    const refused = await call("refusing");
    expect(refused).toMatchObject({ status: 400, body: { name: "NonRetriableError", message: "no", code: "card_declined" } });
    expect(refused.headers.get("x-inngest-no-retry")).toBe("true");
    expect((await call("nope")).body).toMatchObject({ code: "function_not_found" });
  });

  it("answers step.sendEvent as a SendEvent op with its events, and carries a step's own retries", async () => {
    ran = [];
    expect(await call("notify")).toMatchObject({
      status: 206,
      body: [{ op: "SendEvent", id: sha1Hex("tell"), displayName: "tell", opts: { events: [{ name: "t/told", data: { n: 1 } }] } }],
    });
    // The engine's answer is memoized like any step's: the next call runs the step after it, which has retries of its own.
    const next = await call("notify", [["tell", { ids: ["e9"] }]]);
    expect(next).toMatchObject({ status: 206, body: [{ op: "StepRun", id: sha1Hex("after"), data: ["e9"], opts: { retries: 5 } }] });
    const planned = await call("notify", [["tell", { ids: ["e9"] }]], { lazy: true });
    expect(planned.body).toMatchObject([{ op: "StepPlanned", id: sha1Hex("after"), opts: { retries: 5 } }]);
    expect(ran).toEqual(["after"]);
  });
});

describe("serve: signing and sync", () => {
  const env = { INNGEST_SIGNING_KEY: KEY };

  it("refuses an unsigned call when it has a key, and signs its answers", async () => {
    expect(await call("sequential", [], { env })).toMatchObject({ status: 401, body: { code: "invalid_signature" } });
    expect(await call("sequential", [], { env: {} })).toMatchObject({ status: 500, body: { code: "signing_key_missing" } });
    const body = JSON.stringify({ url: "https://billing.binding/" });
    const req = new Request("https://billing.binding/", {
      method: "PUT",
      body,
      headers: { "x-inngest-sync-kind": "in_band", "x-inngest-signature": await signatureHeader(body, KEY) },
    });
    const res = await handler(req, env);
    const text = await res.text();
    expect(res.status).toBe(200);
    expect(await verifySignature(res.headers.get("x-inngest-signature"), text, [KEY])).toBe(true);
    expect(JSON.parse(text)).toMatchObject({
      app_id: "billing",
      functions: expect.arrayContaining([
        {
          id: "sequential",
          name: "sequential",
          triggers: [{ event: "t/e" }],
          steps: {
            step: {
              id: "step",
              name: "step",
              runtime: { type: "http", url: "https://billing.binding/?fnId=sequential&stepId=step" },
              retries: { attempts: 2 },
            },
          },
        },
      ]),
    });
  });
});

describe("serve: what a sync carries", () => {
  it("carries cancelOn (its match as an if), timeouts and flow control as an Inngest SDK registers them", async () => {
    const limited = defineFunction(
      {
        id: "limited",
        triggers: [{ event: "t/e" }],
        concurrency: 1,
        idempotency: "event.data.orderId",
        timeouts: { finish: "1h" },
        cancelOn: [{ event: "t/stop", match: "data.orderId", if: "async.data.force", timeout: "2m" }],
      },
      () => null,
    );
    const body = JSON.stringify({ url: "https://billing.binding/" });
    const req = new Request("https://billing.binding/", { method: "PUT", body, headers: { "x-inngest-sync-kind": "in_band" } });
    const res = await serve({ client: { id: "billing" }, functions: [limited], logger: silent })(req, DEV);
    const [synced] = ((await res.json()) as { functions: Record<string, unknown>[] }).functions;
    expect(synced).toMatchObject({
      concurrency: [{ limit: 1 }],
      idempotency: "event.data.orderId",
      timeouts: { finish: "3600000ms" },
      cancel: [{ event: "t/stop", if: "(event.data.orderId == async.data.orderId) && (async.data.force)", timeout: "120000ms" }],
    });
    expect(synced).not.toHaveProperty("rateLimit");
  });

  it("syncs an onFailure as a function of its own on function.failed, and runs it with the failed run's event and error", async () => {
    const seen: unknown[] = [];
    const guarded = defineFunction(
      { id: "guarded", triggers: [{ event: "t/e" }], retries: 1 },
      () => null,
      ({ event, error, runId, functionId }) => {
        seen.push({ event: event.data, error, runId, functionId });
        return "handled";
      },
    );
    const served = serve({ client: { id: "billing" }, functions: [guarded], logger: silent });
    const body = JSON.stringify({ url: "https://billing.binding/" });
    const sync = await served(
      new Request("https://billing.binding/", { method: "PUT", body, headers: { "x-inngest-sync-kind": "in_band" } }),
      DEV,
    );
    const [, failure] = ((await sync.json()) as { functions: Record<string, unknown>[] }).functions;
    expect(failure).toMatchObject({
      id: "guarded-failure",
      triggers: [{ event: "inngest/function.failed", expression: 'event.data.function_id == "guarded"' }],
      steps: { step: { runtime: { url: "https://billing.binding/?fnId=guarded-failure&stepId=step" }, retries: { attempts: 1 } } },
    });
    const failed = {
      name: "inngest/function.failed",
      data: { function_id: "guarded", run_id: "r9", error: { name: "Error", message: "down", code: "x_down" }, event },
    };
    const call = new Request("https://billing.binding/?fnId=guarded-failure&stepId=step", {
      method: "POST",
      body: JSON.stringify({ event: failed, events: [failed], steps: {}, ctx: { run_id: "r10", attempt: 0 } }),
    });
    const res = await served(call, DEV);
    expect({ status: res.status, body: await res.json() }).toEqual({ status: 200, body: "handled" });
    expect(seen).toEqual([
      { event: event.data, error: { name: "Error", message: "down", code: "x_down" }, runId: "r9", functionId: "guarded" },
    ]);
  });
});
