import { describe, expect, it } from "vitest";
import { type RunDetail, type StepflareHttp, waitFor } from "./client";
import { serveDuringFile } from "./suite";

// The step tools over HTTP, on the e2e worker (test/e2e/worker): invoke, and cancelling runs that sleep and wait.
let http: StepflareHttp;
let base = "";
serveDuringFile({ config: "test/e2e/worker/wrangler.toml", vars: { STEPFLARE_DEV: "true" } }, (dev, h) => {
  http = h;
  base = dev.url;
});

const stamp = Date.now().toString(36);
const post = async (path: string, body?: unknown) => {
  const res = await fetch(`${base}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};
const runOf = async (eventId: string, status: string) =>
  waitFor(
    async () => {
      const [r] = (await http.event(eventId)).runs;
      const detail = r && (await http.run(r.id));
      return detail?.status === status ? detail : undefined;
    },
    `the run of ${eventId} to be ${status}`,
    30_000,
  );

// Each test has runs of its own tag (the bulk cancel selects one tag): they run side by side.
describe.concurrent("step tools over HTTP", () => {
  it("step.invoke runs a child run and answers its output, linked both ways", async () => {
    const [eventId] = await http.send({ name: "e2e/parent", data: { tag: `parent-${stamp}` } });
    const run = await runOf(eventId!, "completed");
    expect(run.output).toEqual({ child: { tag: `parent-${stamp}` } });
    const step = run.steps[0] as RunDetail["steps"][number] & { invoked?: { functionId: string; runId: string } };
    expect(step).toMatchObject({ id: "child", type: "invoke", invoked: { functionId: "quick" } });
    const child = (await http.run(step.invoked!.runId)) as RunDetail & { parent?: unknown };
    expect(child).toMatchObject({ functionId: "quick", status: "completed", parent: { runId: run.id, stepKey: "child" } });
  });

  it("POST /api/v1/runs/:runId/cancel cancels a sleeping run, and answers the same again", async () => {
    const [eventId] = await http.send({ name: "e2e/sleepy", data: { tag: `cancel-${stamp}`, sleepMs: 600_000 } });
    const run = await runOf(eventId!, "sleeping");
    expect(await post(`/api/v1/runs/${run.id}/cancel`)).toEqual({
      status: 200,
      body: { id: run.id, status: "cancelled", cancelled: true },
    });
    expect(await post(`/api/v1/runs/${run.id}/cancel`)).toEqual({
      status: 200,
      body: { id: run.id, status: "cancelled", cancelled: false },
    });
    expect(await http.run(run.id)).toMatchObject({ status: "cancelled", error: { code: "run_cancelled" } });
  });

  it("POST /api/v1/cancellations cancels the runs its `if` selects", async () => {
    const tags = [`bulk-a-${stamp}`, `bulk-b-${stamp}`];
    const ids = await http.send(tags.map((tag) => ({ name: "e2e/sleepy", data: { tag, sleepMs: 600_000 } })));
    const [a, b] = await Promise.all(ids.map((id) => runOf(id, "sleeping")));
    const { status, body } = await post("/api/v1/cancellations", { functionId: "sleepy", if: `event.data.tag == "${tags[0]}"` });
    expect(status).toBe(200);
    expect(body).toMatchObject({ cancelled: 1, remaining: false });
    expect((await http.run(a!.id)).status).toBe("cancelled");
    expect((await http.run(b!.id)).status).toBe("sleeping");
  });

  it("cancelOn cancels a waiting run when its event comes", async () => {
    const tag = `order-${stamp}`;
    const [eventId] = await http.send({ name: "e2e/order", data: { tag } });
    const run = await runOf(eventId!, "waiting");
    await http.send({ name: "e2e/order.cancelled", data: { tag } });
    const cancelled = await runOf(eventId!, "cancelled");
    expect(cancelled).toMatchObject({ id: run.id, error: { code: "run_cancelled" } });
  });
});
