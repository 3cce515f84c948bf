import { describe, expect, it } from "vitest";
import { type StepflareHttp, waitFor } from "./client";
import type { WranglerDev } from "./harness";
import { serveDuringFile } from "./suite";

// Workers in one `wrangler dev`: the engine (services/engine.toml); a Worker
// holding Stepflare functions behind serve() (billing.toml), which the engine
// reaches only through its BILLING service binding; one on the official
// inngest SDK (ledger.toml) behind LEDGER; and one with another key
// (stranger.toml). The engine has the key, so every call through a binding
// is signed and every answer verified.
const SIGNING_KEY = `signkey-test-${"ef56".repeat(16)}`;

let http: StepflareHttp;
let dev: WranglerDev;
serveDuringFile(
  {
    config: "test/e2e/services/engine.toml",
    moreConfigs: ["test/e2e/services/billing.toml", "test/e2e/services/ledger.toml", "test/e2e/services/stranger.toml"],
    vars: { STEPFLARE_DEV: "true", INNGEST_SIGNING_KEY: SIGNING_KEY },
  },
  (d, h) => {
    dev = d;
    http = h;
  },
);

interface Fn {
  id: string;
  remote?: boolean;
  app?: string;
  service?: string;
}

// After the first fan-out and the sync, the tests up to the refusals run side by side: each sends
// events of its own tag, and the billing Worker counts executions per tag.
describe("functions in another Worker, through a service binding", () => {
  it("before any sync, one event runs the engine's function and the other Worker's; each step there runs once", async () => {
    // The engine syncs the bindings it lists on its own, before its first fan-out.
    const tag = `t${Date.now()}`;
    const [eventId] = await http.send({ name: "e2e/services.order", data: { tag, amount: 21 } });
    const settled = await http.settledRuns(eventId!, 3);
    expect(settled.get("services-confirm")).toMatchObject({ status: "completed", output: { confirmed: tag } });
    // The ledger Worker serves its function with the official inngest SDK (inngest/cloudflare), through its own binding.
    expect(settled.get("ledger-record")).toMatchObject({ status: "completed", output: { posted: 22, entry: 1, post: 1 } });
    const billing = settled.get("billing-charge")!;
    expect(billing.status).toBe("completed");
    expect(billing.output).toMatchObject({
      reserved: { amount: 21 },
      charged: { paid: 42 },
      receipt: "receipt-42",
      ledger: "ledger-42",
      // Each step's function ran once in the billing Worker; the handler itself was called again for every step.
      executions: { reserve: 1, charge: 1, receipt: 1, ledger: 1 },
    });
    const handlerCalls = (billing.output as { executions: { handler: number } }).executions.handler;
    expect(handlerCalls).toBeGreaterThanOrEqual(4);
    expect(billing.steps).toHaveLength(4);
  });

  it("POST /api/v1/apps syncs the Worker behind the binding again: its functions are listed with their app", async () => {
    const sync = await http.api<{ synced: boolean; apps: { id: string; service: string; functions: string[] }[] }>("/api/v1/apps", {
      json: { service: "BILLING" },
    });
    expect(sync).toMatchObject({
      status: 200,
      body: {
        synced: true,
        apps: [
          {
            id: "billing",
            service: "BILLING",
            functions: [
              "billing-charge",
              "billing-refund",
              "billing-dispute",
              "billing-invoice",
              "billing-ship",
              "billing-ship-failure",
              "billing-hold",
            ],
          },
        ],
      },
    });
    const { body } = await http.api<{ functions: Fn[] }>("/api/v1/functions");
    const byId = new Map(body.functions.map((f) => [f.id, f]));
    expect(byId.get("billing-charge")).toMatchObject({ remote: true, app: "billing", service: "BILLING" });
    expect(byId.get("services-confirm")?.remote).toBeUndefined();
  });

  it.concurrent("a step there retries, a sleep and a wait for an event work through the binding", async () => {
    const tag = `r${Date.now()}`;
    const [eventId] = await http.send({ name: "e2e/services.refund", data: { tag } });
    const waiting = await waitFor(async () => {
      const run = (await http.event(eventId!)).runs.find((r) => r.functionId === "billing-refund");
      const detail = run && (await http.run(run.id));
      return detail?.status === "waiting" ? detail : undefined;
    }, "the billing Worker's run to wait");
    expect(waiting.steps.map((s) => s.status)).toEqual(["completed", "completed", "waiting"]);
    await http.send({ name: "e2e/services.approved", data: { tag: "someone else", ok: false } });
    await http.send({ name: "e2e/services.approved", data: { tag, ok: true } });
    const done = await waitFor(async () => {
      const run = await http.run(waiting.id);
      return run.status === "completed" ? run : undefined;
    }, "the billing Worker's run to end");
    // Attempt 0 failed in the billing Worker, attempt 1 ran there and was memoized from then on.
    expect(done.output).toEqual({ attempt: 1, approved: true, flaky: 2 });
  });

  it.concurrent("a step there that fails dead-letters its run, and a replay completes it without running the settled step again", async () => {
    const tag = `d${Date.now()}`;
    const [eventId] = await http.send({ name: "e2e/services.dispute", data: { tag } });
    const failed = (await http.settledRuns(eventId!, 1)).get("billing-dispute")!;
    expect(failed.status).toBe("failed");
    expect(failed.error?.message).toMatch(/no verdict yet/);
    const letters = await waitFor(async () => {
      const { body } = await http.api<{ deadLetters: { runId: string }[] }>("/api/v1/dead-letters?functionId=billing-dispute");
      return body.deadLetters.length > 0 ? body.deadLetters : undefined;
    }, "the dead letter");
    expect(letters.map((l) => l.runId)).toContain(failed.id);
    expect((await http.api(`/api/v1/runs/${failed.id}/replay`, { json: {} })).status).toBe(200);
    const done = await waitFor(async () => {
      const run = await http.run(failed.id);
      return run.status === "completed" ? run : undefined;
    }, "the replayed run");
    expect(done.output).toEqual({ verdict: "refunded", open: 1, decide: 2 });
  });

  it.concurrent("a function there invokes one of the engine's own and one of its own Worker's, and gets their outputs", async () => {
    const tag = `i${Date.now()}`;
    const [eventId] = await http.send({ name: "e2e/services.invoice", data: { tag } });
    const run = (await http.settledRuns(eventId!, 1)).get("billing-invoice");
    expect(run).toMatchObject({ status: "completed", output: { confirmed: tag, charged: { paid: 10 } } });
  });

  it.concurrent("a step there retries under its own retries, and step.sendEvent sends once through the engine, answering the ids", async () => {
    const tag = `s${Date.now()}`;
    const [eventId] = await http.send({ name: "e2e/services.ship", data: { tag } });
    const run = (await http.settledRuns(eventId!, 1)).get("billing-ship")!;
    // The function has retries: 0; the step's own 2 let its third attempt succeed, each attempt run once in that Worker.
    expect(run).toMatchObject({ status: "completed", output: { courier: 2, courierRuns: 3 } });
    const { ids } = (run.output as { sent: { ids: string[] } }).sent;
    expect(ids).toHaveLength(2);
    expect(run.steps.map((s) => [s.id.split(" ")[0], s.status])).toEqual([
      ["courier", "completed"],
      ["shipped", "completed"],
    ]);
    // Each sent event fanned out to the engine's function, once.
    for (const [i, id] of ids.entries()) {
      const shipped = await http.settledRuns(id, 1);
      expect(shipped.get("services-shipped")).toMatchObject({ status: "completed", output: { shipped: i === 0 ? tag : `${tag}-copy` } });
      expect((await http.event(id)).runs).toHaveLength(1);
    }
  });

  it.concurrent("the code of a final error there is the run's error code, and the function's onFailure runs there with it", async () => {
    const tag = `c${Date.now()}`;
    const [eventId] = await http.send({ name: "e2e/services.ship", data: { tag, decline: true } });
    const run = (await http.settledRuns(eventId!, 1)).get("billing-ship")!;
    expect(run).toMatchObject({ status: "failed", error: { code: "card_declined" } });
    expect(run.error?.message).toMatch(/the card was declined/);
    const handled = await waitFor(async () => {
      const { body } = await http.api<{ runs: { id: string; status: string }[] }>("/api/v1/runs?functionId=billing-ship-failure");
      const runs = await Promise.all(body.runs.map((r) => http.run(r.id)));
      return runs.find((r) => r.status === "completed" && (r.output as { refunded?: string }).refunded === tag);
    }, "the onFailure run");
    expect(handled.output).toEqual({ refunded: tag, code: "card_declined", functionId: "billing-ship" });
  });

  it.concurrent("the function's options are synced and applied: idempotency skips a second event, cancelOn's match cancels the run", async () => {
    const tag = `h${Date.now()}`;
    const [first] = await http.send({ name: "e2e/services.hold", data: { tag } });
    const held = await waitFor(async () => {
      const run = (await http.event(first!)).runs[0];
      return run?.status === "sleeping" ? run : undefined;
    }, "the held run to sleep");
    const [second] = await http.send({ name: "e2e/services.hold", data: { tag } });
    const skipped = await waitFor(async () => {
      const run = (await http.event(second!)).runs[0];
      return run?.status === "skipped" ? run : undefined;
    }, "the second event's run to be skipped");
    expect(await http.run(skipped.id)).toMatchObject({ skipped: { reason: "idempotency_duplicate" } });
    // A release of another tag does not match; the run's own tag cancels it.
    const [other] = await http.send({ name: "e2e/services.release", data: { tag: `${tag}-other` } });
    await waitFor(async () => ((await http.event(other!)) as { dispatched?: boolean }).dispatched || undefined, "the other release");
    await new Promise((r) => setTimeout(r, 1000));
    expect((await http.run(held.id)).status).toBe("sleeping");
    await http.send({ name: "e2e/services.release", data: { tag } });
    const cancelled = await waitFor(async () => {
      const run = await http.run(held.id);
      return run.status === "cancelled" ? run : undefined;
    }, "the held run to be cancelled");
    expect(cancelled.output).toBeUndefined();
  });

  it("refuses a binding the engine does not list, one its Worker lacks, and a Worker with another key", async () => {
    expect(await http.api("/api/v1/apps", { json: { service: "ELSEWHERE" } })).toMatchObject({
      status: 400,
      body: { error: { code: "service_not_configured" } },
    });
    expect(await http.api("/api/v1/apps", { json: { service: "MISSING" } })).toMatchObject({
      status: 400,
      body: { error: { code: "service_binding_missing" } },
    });
    // A Worker with another signing key refuses the engine's signed request: nothing of it is stored.
    expect(await http.api("/api/v1/apps", { json: { service: "STRANGER" } })).toMatchObject({
      status: 403,
      body: { error: { code: "remote_unauthorized" } },
    });
    const { body } = await http.api<{ apps: { id: string }[] }>("/api/v1/apps");
    expect(body.apps.map((a) => a.id)).toEqual(["billing", "ledger"]);
    // Wrangler shows the billing Worker's plain var cut short; the engine never prints the key.
    expect(dev.output()).not.toContain(SIGNING_KEY);
  });
});
