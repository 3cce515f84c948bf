import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, BASE, sendEvents, waitFor } from "./helpers";

// The `inngest` SDK's register call against the engine in dev mode with no signing key (any call is accepted).
const register = (body: unknown) =>
  exports.default.fetch(`${BASE}/fn/register`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer " },
    body: JSON.stringify(body),
  });

const fn = (id: string, extra: Record<string, unknown> = {}, url = `http://app.test/api/inngest?fnId=${id}&stepId=step`) => ({
  id,
  name: id,
  triggers: [{ event: "test/remote" }],
  steps: { step: { id: "step", name: "step", runtime: { type: "http", url }, retries: { attempts: 2 } } },
  ...extra,
});

interface Fn {
  id: string;
  remote?: true;
  app?: string;
  retries: number;
  triggers: unknown[];
}

const remoteOf = async (app: string) => (await api<{ functions: Fn[] }>("/api/v1/functions")).body.functions.filter((f) => f.app === app);

describe("POST /fn/register", () => {
  it("stores the app's functions in Stepflare's form, and a re-sync replaces them", async () => {
    const res = await register({
      url: "http://app.test/api/inngest",
      appName: "unit-app",
      sdk: "js:v4.24.0",
      functions: [fn("unit-app-a", { triggers: [{ event: "test/remote", expression: "event.data.n > 1" }] }), fn("unit-app-b")],
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true, app: "unit-app", functions: ["unit-app-a", "unit-app-b"] });
    expect(await remoteOf("unit-app")).toMatchObject([
      { id: "unit-app-a", remote: true, retries: 2, triggers: [{ event: "test/remote", if: "event.data.n > 1" }] },
      { id: "unit-app-b", remote: true },
    ]);
    const apps = await api<{ apps: { id: string; functions: string[]; sdk: string }[] }>("/api/v1/apps");
    expect(apps.body.apps.find((a) => a.id === "unit-app")).toMatchObject({ sdk: "js:v4.24.0", functions: ["unit-app-a", "unit-app-b"] });

    expect((await register({ url: "http://app.test/api/inngest", appName: "unit-app", functions: [fn("unit-app-b")] })).status).toBe(200);
    expect((await remoteOf("unit-app")).map((f) => f.id)).toEqual(["unit-app-b"]);

    const removed = await api("/api/v1/apps/unit-app/remove", { method: "POST" });
    expect(removed).toEqual({ status: 200, body: { id: "unit-app", removed: true } });
    expect(await remoteOf("unit-app")).toEqual([]);
    expect(await api("/api/v1/apps/unit-app/remove", { method: "POST" })).toMatchObject({
      status: 404,
      body: { error: { code: "app_not_found" } },
    });
  });

  it("refuses, with the code leading the SDK's error string: a bad expression, a step URL not http(s), a body without functions", async () => {
    const cases: [unknown, string][] = [
      [
        {
          url: "http://app.test/x",
          appName: "bad",
          functions: [fn("bad-x", { triggers: [{ event: "test/remote", expression: "event.data.(" }] })],
        },
        "invalid_expression",
      ],
      [{ url: "http://app.test/x", appName: "bad", functions: [fn("bad-y", {}, "ftp://app.test/x")] }, "invalid_function"],
      [{ url: "http://app.test/x", appName: "bad" }, "invalid_register"],
    ];
    for (const [body, code] of cases) {
      const res = await register(body);
      expect(res.status, code).toBe(400);
      const answer = (await res.json()) as { error: string; code: string; status: number };
      expect(answer).toMatchObject({ status: 400, code });
      expect(answer.error.startsWith(`${code}: `)).toBe(true);
    }
    expect(await remoteOf("bad")).toEqual([]);
    const taken = await register({ url: "http://app.test/x", appName: "bad", functions: [fn("sequential")] });
    expect(taken.status).toBe(409);
    expect(((await taken.json()) as { code: string }).code).toBe("function_id_taken");
  });

  it("keeps a batch's `if`: an event it refuses starts a run of its own at once, one it holds for waits in the batch", async () => {
    const batchEvents = { maxSize: 5, timeout: "10s", if: "event.data.bulk == true" };
    const bad = await register({
      url: "http://app.test/x",
      appName: "batch-app",
      functions: [fn("batch-if-bad", { batchEvents: { ...batchEvents, if: "event.data.(" } })],
    });
    expect(((await bad.json()) as { code: string }).code).toBe("invalid_expression");
    const trigger = { triggers: [{ event: "test/remote-batch-if" }] };
    // A closed port on loopback: the lone run's call is refused at once.
    const closed = "http://127.0.0.1:9/api/inngest?fnId=batch-if&stepId=step";
    const ok = await register({
      url: "http://127.0.0.1:9/api/inngest",
      appName: "batch-app",
      functions: [
        fn("batch-if", { ...trigger, batchEvents, steps: { step: { id: "step", runtime: { url: closed }, retries: { attempts: 0 } } } }),
      ],
    });
    expect(ok.status).toBe(200);
    try {
      const [bulk, lone] = await sendEvents([
        { name: "test/remote-batch-if", data: { bulk: true } },
        { name: "test/remote-batch-if", data: { bulk: false } },
      ]);
      const listed = async (id: string) =>
        waitFor(async () => (await api<{ runs: { status: string; errorCode?: string }[] }>(`/api/v1/events/${id}`)).body.runs[0], "a run");
      expect(await listed(bulk!)).toMatchObject({ status: "queued", errorCode: "batch" });
      // Started at once: it calls the app (nothing listens), instead of waiting 10 s in the batch.
      expect(await listed(lone!)).not.toMatchObject({ status: "queued" });
    } finally {
      await api("/api/v1/apps/batch-app/remove", { method: "POST" });
    }
  });
});
