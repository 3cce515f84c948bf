import { describe, expect, it } from "vitest";
import { type StepflareHttp, waitFor } from "./client";
import { serveDuringFile } from "./suite";

// Event-side flow control over HTTP, against a real `wrangler dev` (functions in worker/flow-events.ts).
let http: StepflareHttp;
let baseUrl: string;
serveDuringFile({ config: "test/e2e/worker/wrangler.toml", vars: { STEPFLARE_DEV: "true" } }, (dev, h) => {
  http = h;
  baseUrl = dev.url;
});

type Listed = { id: string; functionId: string; eventId: string; status: string; errorCode?: string };
const ENDED = new Set(["completed", "failed", "cancelled", "skipped"]);

/** The function's listed runs once `ready` holds of them. */
const runsOf = (functionId: string, ready: (runs: Listed[]) => boolean, what: string) =>
  waitFor(async () => {
    const { body } = await http.api<{ runs: Listed[] }>(`/api/v1/runs?functionId=${functionId}&limit=100`);
    return ready(body.runs) ? body.runs : undefined;
  }, what);
const ofEvents = (ids: string[]) => (runs: Listed[]) => runs.filter((r) => ids.includes(r.eventId));

// Each test drives a function of its own (and events of its own tag): they run side by side.
describe.concurrent("event-side flow control over HTTP", () => {
  it("debounce: three quick events make one run, with the last; the others are listed skipped, debounced", async () => {
    const tag = `deb-${Date.now()}`;
    const ids = await http.send([1, 2, 3].map((n) => ({ name: "e2e/debounced", data: { tag, n } })));
    const runs = await runsOf("e2e-debounced", (r) => ofEvents(ids)(r).some((x) => x.status === "completed"), "the debounced run").then(
      ofEvents(ids),
    );
    const done = runs.filter((r) => r.status === "completed");
    expect(done).toHaveLength(1);
    expect((await http.run(done[0]!.id)).output).toBe(3);
    const skipped = await runsOf("e2e-debounced", (r) => ofEvents(ids)(r).length === 3, "every event listed").then(ofEvents(ids));
    expect(skipped.filter((r) => r.status === "skipped").map((r) => r.errorCode)).toEqual(["debounced", "debounced"]);
  });

  it("batchEvents: seven events with maxSize 3 run as 3, 3 and 1", async () => {
    const tag = `batch-${Date.now()}`;
    const ids = await http.send(Array.from({ length: 7 }, (_, i) => ({ name: "e2e/batched", data: { tag, n: i + 1 } })));
    const runs = await runsOf(
      "e2e-batched",
      (r) => {
        const mine = ofEvents(ids)(r);
        return mine.length === 3 && mine.every((x) => x.status === "completed");
      },
      "three batch runs",
    ).then(ofEvents(ids));
    const outputs = await Promise.all(runs.map(async (r) => (await http.run(r.id)).output as number[]));
    expect(outputs.map((o) => o.length).sort()).toEqual([1, 3, 3]);
    expect(outputs.flat().sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it("rateLimit: one start a minute per key; the rest are listed skipped, rate_limited", async () => {
    const tag = `rate-${Date.now()}`;
    const ids = await http.send([1, 2, 3].map((n) => ({ name: "e2e/rate-limited", data: { tag, n } })));
    const runs = await runsOf(
      "e2e-rate-limited",
      (r) => {
        const mine = ofEvents(ids)(r);
        return mine.length === 3 && mine.every((x) => ENDED.has(x.status));
      },
      "three listed runs",
    ).then(ofEvents(ids));
    expect(runs.filter((r) => r.status === "completed")).toHaveLength(1);
    expect(runs.filter((r) => r.status === "skipped").map((r) => r.errorCode)).toEqual(["rate_limited", "rate_limited"]);
    const skipped = runs.find((r) => r.status === "skipped")!;
    expect(await http.run(skipped.id)).toMatchObject({ status: "skipped", skipped: { reason: "rate_limited" }, steps: [] });
  });

  it("cron: wrangler dev's /__scheduled runs the scheduled handler, which starts the every-minute function", async () => {
    const res = await fetch(`${baseUrl}/__scheduled?cron=*+*+*+*+*`);
    expect(res.status).toBe(200);
    const [run] = await runsOf("e2e-every-minute", (r) => r.some((x) => x.status === "completed"), "the cron run");
    expect((await http.run(run!.id)).output).toEqual({ cron: "* * * * *" });
    expect((await http.event(run!.eventId)).event.name).toBe("stepflare/scheduled.timer");
  });

  it("pause: a paused function's event is listed skipped, function_paused; after resume, events run", async () => {
    expect((await http.api("/api/v1/functions/e2e-pausable/pause", { method: "POST" })).status).toBe(200);
    const { body } = await http.api<{ functions: { id: string; paused: boolean }[] }>("/api/v1/functions");
    expect(body.functions.find((f) => f.id === "e2e-pausable")?.paused).toBe(true);
    const [during] = await http.send({ name: "e2e/pausable", data: {} });
    const [skipped] = await runsOf("e2e-pausable", (r) => ofEvents([during!])(r).length === 1, "the paused event's listing").then(
      ofEvents([during!]),
    );
    expect(skipped).toMatchObject({ status: "skipped", errorCode: "function_paused" });
    expect((await http.api("/api/v1/functions/e2e-pausable/resume", { method: "POST" })).status).toBe(200);
    const [after] = await http.send({ name: "e2e/pausable", data: {} });
    const [ran] = await runsOf("e2e-pausable", (r) => ofEvents([after!])(r)[0]?.status === "completed", "the resumed run").then(
      ofEvents([after!]),
    );
    expect(ran).toMatchObject({ status: "completed" });
  });
});
