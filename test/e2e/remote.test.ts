import { createHash } from "node:crypto";
import { createServer } from "node:http";
import { describe, expect, it } from "vitest";
import { type StepflareHttp, waitFor } from "./client";
import { freePort, type WranglerDev } from "./harness";
import { InngestApp } from "./inngest-app";
import { serveDuringFile } from "./suite";

// Apps on the official `inngest` SDK run on Stepflare with their base URL
// pointed at the engine: they sync through /fn/register, and the engine calls
// their serve URL step by step. The engine has a signing key, so every call
// is signed and every answer verified, as in production.
const SIGNING_KEY = `signkey-test-${"ab12".repeat(16)}`;
const OTHER_KEY = `signkey-test-${"cd34".repeat(16)}`;

let dev: WranglerDev;
let http: StepflareHttp;
serveDuringFile({ config: "test/e2e/worker/wrangler.toml", vars: { STEPFLARE_DEV: "true", INNGEST_SIGNING_KEY: SIGNING_KEY } }, (d, h) => {
  dev = d;
  http = h;
});

interface Fn {
  id: string;
  remote?: boolean;
  app?: string;
}

// After the sync, the tests up to the re-sync run side by side: each sends events of its own
// to functions of its own, and counts only its own steps in the app.
describe("functions served by the inngest SDK", () => {
  let app: InngestApp;

  it("syncs an app: its functions are listed beside the engine's own", async () => {
    app = await new InngestApp({ id: "remote-e2e", engineUrl: dev.url, signingKey: SIGNING_KEY }).start();
    const sync = await http.api<{ synced: boolean; apps: { id: string }[] }>("/api/v1/apps", { json: { url: app.url } });
    expect(sync).toMatchObject({ status: 200, body: { synced: true, apps: [{ id: "remote-e2e" }] } });
    const { body } = await http.api<{ functions: Fn[] }>("/api/v1/functions");
    const byId = new Map(body.functions.map((f) => [f.id, f]));
    expect(byId.get("remote-e2e-sequential")).toMatchObject({ remote: true, app: "remote-e2e" });
    expect(byId.get("remote-e2e-waiting")).toMatchObject({ remote: true, app: "remote-e2e" });
    expect(byId.get("remote-neighbour")?.remote).toBeUndefined();
    const page = await (await fetch(`${dev.url}/dashboard/functions`)).text();
    expect(page).toMatch(/data-function="remote-e2e-sequential"[\s\S]*?remote, app remote-e2e/);
  });

  it.concurrent("one event starts the local function and two remote ones; steps are memoized, parallel, sleep and wait", async () => {
    const tag = `t${Date.now()}`;
    const [eventId] = await http.send({ name: "e2e/remote", data: { tag, n: 1 } });
    // The local run and the sequential remote one end; the waiting one waits for its event.
    const settled = await http.settledRuns(eventId!, 2);
    expect(settled.get("remote-neighbour")).toMatchObject({ status: "completed", output: { local: tag } });
    expect(settled.get("remote-e2e-sequential")).toMatchObject({ status: "completed", output: { a: 2, b: 4, c: 5, d: 6 } });
    // Each step ran once in the app, however many times the app was called.
    for (const step of ["a", "b", "c", "d"]) expect(app.count(`${step}:${tag}`)).toBe(1);
    const detail = settled.get("remote-e2e-sequential")!;
    // Journal ids read as the app's step ids, each followed by the start of the SDK's hashed id.
    expect(detail.steps.map((s) => s.id.split(" ")[0])).toEqual(["a", "b", "nap", "c", "d"]);
    // c and d (300 ms each in the app) ran at the same time, as separate calls.
    const [c, d] = detail.steps.slice(3).map((s) => [Date.parse(s.startedAt!), Date.parse(s.endedAt!)] as const);
    expect(c![0] < d![1] && d![0] < c![1]).toBe(true);

    const waiting = await waitFor(async () => {
      const ev = await http.event(eventId!);
      const run = ev.runs.find((r) => r.functionId === "remote-e2e-waiting");
      return run && (await http.run(run.id)).status === "waiting" ? run : undefined;
    }, "the remote wait");
    expect(app.count(`after:${tag}`)).toBe(0);
    await http.send({ name: "e2e/remote.approved", data: { tag, ok: true } });
    const resumed = await waitFor(async () => {
      const run = await http.run(waiting.id);
      return run.status === "completed" ? run : undefined;
    }, "the remote wait's run to end");
    expect(resumed.output).toEqual({ approved: true });
    expect(app.count(`after:${tag}`)).toBe(1);
  });

  it.concurrent("step.invoke of another remote function runs it as a child run and answers its output", async () => {
    const [eventId] = await http.send({ name: "e2e/remote.invoke", data: { n: 21 } });
    const run = (await http.settledRuns(eventId!, 1)).get("remote-e2e-invoker");
    expect(run).toMatchObject({ status: "completed", output: { doubled: 42 } });
  });

  it.concurrent("step.sendEvent sends through the engine's ingest, and the event fans out", async () => {
    const [eventId] = await http.send({ name: "e2e/remote.send", data: { n: 4 } });
    const sent = (await http.settledRuns(eventId!, 1)).get("remote-e2e-sender");
    expect(sent?.status).toBe("completed");
    const ids = (sent!.output as { ids: string[] }).ids;
    expect(ids).toHaveLength(1);
    const forwarded = (await http.settledRuns(ids[0]!, 1)).get("remote-e2e-invoker");
    expect(forwarded).toMatchObject({ status: "completed", output: { doubled: 8 } });
  });

  it.concurrent("a remote cron trigger fires from the scheduled handler", async () => {
    expect((await fetch(`${dev.url}/__scheduled?cron=*+*+*+*+*`)).status).toBe(200);
    const run = await waitFor(async () => {
      const { body } = await http.api<{ runs: { id: string; status: string }[] }>("/api/v1/runs?functionId=remote-e2e-ticker");
      return body.runs.find((r) => r.status === "completed");
    }, "the cron run");
    expect((await http.run(run.id)).output).toBe("ticked");
    expect(app.count("tick")).toBe(1);
  });

  it.concurrent("the app's cancelOn cancels a run with the matching event", async () => {
    const tag = `c${Date.now()}`;
    const [eventId] = await http.send({ name: "e2e/remote.long", data: { tag } });
    const runId = await waitFor(
      async () => {
        const run = (await http.event(eventId!)).runs.find((r) => r.functionId === "remote-e2e-cancellable");
        return run && (await http.run(run.id)).status === "sleeping" ? run.id : undefined;
      },
      "the remote run to sleep",
      60_000,
    );
    await http.send({ name: "e2e/remote.stop", data: { tag: "another" } });
    await http.send({ name: "e2e/remote.stop", data: { tag } });
    const run = await waitFor(async () => {
      const r = await http.run(runId);
      return r.status === "cancelled" ? r : undefined;
    }, "the cancel");
    expect(run.error?.message).toMatch(/e2e\/remote.stop/);
    expect(app.count("never")).toBe(0);
  });

  it.concurrent("a remote step's output has a local step's limit: the run fails with step_output_too_large", async () => {
    const [eventId] = await http.send({ name: "e2e/remote.huge", data: {} });
    const run = (await http.settledRuns(eventId!, 1)).get("remote-e2e-huge");
    expect(run).toMatchObject({ status: "failed", error: { code: "step_output_too_large" } });
  });

  it.concurrent("an outage while the steps queue catches up to parallel steps is retried, not taken for non-determinism", async () => {
    // Discovery call 1 is the run object's (it finds p and q); call 2 is a steps consumer's catch-up: it gets a 503.
    app.failDiscovery.set("remote-e2e-fanned", 2);
    const [eventId] = await http.send({ name: "e2e/remote.fanned", data: {} });
    const run = (await http.settledRuns(eventId!, 1)).get("remote-e2e-fanned");
    expect(run).toMatchObject({ status: "completed", output: "pq" });
    expect([app.count("p"), app.count("q")]).toEqual([1, 1]);
    expect(run!.steps.some((s) => (s.failedAttempts ?? []).some((a) => /injected outage/.test(a.error.message)))).toBe(true);
  });

  it.concurrent("the app's concurrency limit holds: three runs of a limit-1 function never overlap", async () => {
    const ids = await http.send([1, 2, 3].map((n) => ({ name: "e2e/remote.single", data: { n } })));
    for (const id of ids) expect((await http.settledRuns(id, 1)).get("remote-e2e-single")?.status).toBe("completed");
    const spans = [...app.intervals].sort((a, b) => a[0] - b[0]);
    expect(spans).toHaveLength(3);
    for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1]);
  });

  it.concurrent("the app's debounce and rateLimit apply at fan-out", async () => {
    const ids: string[] = [];
    for (const n of [1, 2, 3]) ids.push(...(await http.send({ name: "e2e/remote.debounce", data: { n } })));
    const last = (await http.settledRuns(ids[2]!, 1)).get("remote-e2e-debounced");
    expect(last).toMatchObject({ status: "completed", output: 3 });
    for (const id of ids.slice(0, 2)) {
      const listed = await waitFor(async () => {
        const run = (await http.event(id)).runs[0];
        return run?.status === "skipped" ? run : undefined;
      }, "the debounced run's row");
      expect(listed).toMatchObject({ errorCode: "debounced" });
    }

    const [first, second] = await http.send([1, 2].map((n) => ({ name: "e2e/remote.rate", data: { n } })));
    const statuses = await waitFor(async () => {
      const runs = await Promise.all(
        [first!, second!].map(async (id) => (await http.event(id)).runs[0] as { status: string; errorCode?: string } | undefined),
      );
      return runs.every((r) => r && ["completed", "skipped"].includes(r.status))
        ? runs.map((r) => [r!.status, r!.errorCode ?? null])
        : undefined;
    }, "the rate-limited runs");
    expect(statuses.sort()).toEqual([
      ["completed", null],
      ["skipped", "rate_limited"],
    ]);
  });

  it.concurrent("a remote step's RetryAfterError delays its retry by the Retry-After the app answers", async () => {
    const [eventId] = await http.send({ name: "e2e/remote.patient", data: {} });
    const run = (await http.settledRuns(eventId!, 1)).get("remote-e2e-patient")!;
    expect(run).toMatchObject({ status: "completed", output: "served" });
    const [step] = run.steps;
    const failed = step!.failedAttempts![0]!;
    // The e2e engine's backoff is 200 ms to 1 s: a gap of 3 s is the app's Retry-After.
    expect(Date.parse(step!.endedAt!) - Date.parse(failed.endedAt!)).toBeGreaterThanOrEqual(2_900);
    expect(app.count("busy-once")).toBe(2);
  });

  it.concurrent("step.ai.infer: the engine asks the provider, retries its error, and memoizes its answer as the step's output", async () => {
    // A provider on loopback, in OpenAI's chat format: its first request fails (500), the next is answered.
    const requests: { auth?: string; path?: string; body: { model?: string; messages?: { content: string }[] } }[] = [];
    const provider = createServer((req, res) => {
      let text = "";
      req.on("data", (c) => (text += c));
      req.on("end", () => {
        requests.push({ auth: req.headers.authorization, path: req.url, body: JSON.parse(text) });
        if (requests.length === 1) return void res.writeHead(500, { "content-type": "application/json" }).end('{"error":"overloaded"}');
        const answer = { id: "chat-1", choices: [{ index: 0, message: { role: "assistant", content: "forty-two" } }] };
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(answer));
      });
    });
    const port = await freePort();
    await new Promise<void>((resolve) => provider.listen(port, "127.0.0.1", resolve));
    try {
      const apiKey = `sk-e2e-${Date.now()}`;
      const prompt = `p${Date.now()}`;
      const [eventId] = await http.send({ name: "e2e/remote.think", data: { baseUrl: `http://127.0.0.1:${port}/v1/`, apiKey, prompt } });
      const run = (await http.settledRuns(eventId!, 1)).get("remote-e2e-thinker")!;
      expect(run).toMatchObject({
        status: "completed",
        output: { answer: { choices: [{ message: { content: "forty-two" } }] }, after: "after" },
      });
      // Two requests: the failed attempt and its retry; the discovery calls after it found the answer in the memo.
      expect(requests).toHaveLength(2);
      expect(requests[1]).toMatchObject({
        auth: `Bearer ${apiKey}`,
        path: "/v1/chat/completions",
        body: { model: "gpt-e2e", messages: [{ content: prompt }] },
      });
      expect(run.steps.map((s) => [s.id.split(" ")[0], s.status, s.attempts])).toEqual([
        ["think", "completed", 2],
        ["after-think", "completed", 1],
      ]);
      expect(app.count(`after-think:${prompt}`)).toBe(1);
      // The key is in no API answer and no log line.
      expect(JSON.stringify(await http.run(run.id))).not.toContain(apiKey);
      expect(dev.output()).not.toContain(apiKey);
    } finally {
      provider.close();
    }
  });

  it("a re-sync replaces the app's functions", async () => {
    const only = await fetch(`${dev.url}/fn/register`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${hashed(SIGNING_KEY)}` },
      body: JSON.stringify({
        url: app.url,
        appName: "remote-e2e",
        functions: [
          {
            id: "remote-e2e-sequential",
            triggers: [{ event: "e2e/remote" }],
            steps: {
              step: { id: "step", name: "step", runtime: { type: "http", url: `${app.url}?fnId=remote-e2e-sequential&stepId=step` } },
            },
          },
        ],
      }),
    });
    expect(only.status).toBe(200);
    const remoteIds = async () =>
      (await http.api<{ functions: Fn[] }>("/api/v1/functions")).body.functions.filter((f) => f.app === "remote-e2e").map((f) => f.id);
    expect(await remoteIds()).toEqual(["remote-e2e-sequential"]);
    expect((await http.api("/api/v1/apps", { json: { url: app.url } })).status).toBe(200);
    expect(await remoteIds()).toContain("remote-e2e-waiting");
  });
});

describe("a remote step that fails", () => {
  let app: InngestApp;

  it("retries, fails the run into the dead letters, and a replay completes it without re-running settled steps", async () => {
    app = await new InngestApp({ id: "remote-e2e-fail", engineUrl: dev.url, signingKey: SIGNING_KEY }).start();
    expect((await http.api("/api/v1/apps", { json: { url: app.url } })).status).toBe(200);
    const [eventId] = await http.send({ name: "e2e/remote.fail", data: {} });
    const failed = (await http.settledRuns(eventId!, 1)).get("remote-e2e-fail-failing")!;
    // retries: 1 — two attempts of the step in the app, then the run fails with the app's error.
    expect(failed.status).toBe("failed");
    expect(failed.error?.message).toMatch(/boom: the remote step failed/);
    expect(app.count("boom")).toBe(2);
    const letters = await waitFor(async () => {
      const { body } = await http.api<{ deadLetters: { runId: string }[] }>("/api/v1/dead-letters?functionId=remote-e2e-fail-failing");
      return body.deadLetters.length > 0 ? body.deadLetters : undefined;
    }, "the dead letter");
    expect(letters[0]?.runId).toBe(failed.id);
    // The app's onFailure handler runs from the engine's stepflare/function.failed, as inngest/function.failed.
    await waitFor(async () => (app.count("onFailure") === 1 ? true : undefined), "the app's onFailure handler");
    expect(app.lastFailure).toMatch(/boom: the remote step failed/);

    app.failing = false;
    const replay = await http.api(`/api/v1/runs/${failed.id}/replay`, { json: {} });
    expect(replay.status).toBe(200);
    const done = await waitFor(async () => {
      const run = await http.run(failed.id);
      return run.status === "completed" ? run : undefined;
    }, "the replayed run");
    expect(done.output).toBe("fixed");
    expect(app.count("boom")).toBe(3);
    expect(app.count("prepare")).toBe(1);
    await app.stop();
  });
});

// Each with an app and functions of its own: side by side.
describe.concurrent("signatures", () => {
  const register = (app: InngestApp, authorization: string, fnId: string, event: string) =>
    fetch(`${dev.url}/fn/register`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization },
      body: JSON.stringify({
        url: app.url,
        appName: app.options.id,
        sdk: "js:v4",
        functions: [
          {
            id: fnId,
            name: fnId,
            triggers: [{ event }],
            steps: { step: { id: "step", name: "step", runtime: { type: "http", url: `${app.url}?fnId=${fnId}&stepId=step` } } },
          },
        ],
      }),
    });

  it("a sync of an app that does not answer is a 502 app_unreachable", async () => {
    const url = `http://127.0.0.1:${await freePort()}/api/inngest`;
    const sync = await http.api<{ error: { code: string } }>("/api/v1/apps", { json: { url } });
    expect(sync).toMatchObject({ status: 502, body: { error: { code: "app_unreachable" } } });
  });

  it("refuses the sync of an app with another signing key: it registers nothing", async () => {
    const app = await new InngestApp({ id: "remote-e2e-bad", engineUrl: dev.url, signingKey: OTHER_KEY }).start();
    const sync = await http.api<{ error: { code: string; message: string } }>("/api/v1/apps", { json: { url: app.url } });
    expect(sync).toMatchObject({ status: 403, body: { error: { code: "invalid_signing_key" } } });
    expect(JSON.stringify(sync.body)).not.toContain(OTHER_KEY.slice(-16));
    const wrong = await register(app, `Bearer ${hashed(OTHER_KEY)}`, "remote-e2e-bad-guarded", "e2e/remote.guarded");
    expect(wrong.status).toBe(401);
    expect(((await wrong.json()) as { code: string }).code).toBe("invalid_signing_key");
    const { body } = await http.api<{ functions: Fn[] }>("/api/v1/functions");
    expect(body.functions.some((f) => f.app === "remote-e2e-bad")).toBe(false);
    await app.stop();
  });

  it("refuses a function id another app already serves, and one the engine serves itself", async () => {
    const app = await new InngestApp({ id: "remote-e2e-thief", engineUrl: dev.url, signingKey: SIGNING_KEY }).start();
    const res = await register(app, `Bearer ${hashed(SIGNING_KEY)}`, "remote-e2e-sequential", "e2e/remote");
    expect(res.status).toBe(409);
    expect(((await res.json()) as { code: string }).code).toBe("function_id_taken");
    const local = await register(app, `Bearer ${hashed(SIGNING_KEY)}`, "remote-neighbour", "e2e/remote");
    expect(local.status).toBe(409);
    await app.stop();
  });

  it("fails a run whose app refuses the engine's signature, and nothing runs in the app", async () => {
    // Registered with the engine's key, but the app serving the function verifies with another.
    const app = await new InngestApp({ id: "remote-e2e-other", engineUrl: dev.url, signingKey: OTHER_KEY }).start();
    const res = await register(app, `Bearer ${hashed(SIGNING_KEY)}`, "remote-e2e-other-guarded", "e2e/remote.guarded");
    expect(res.status).toBe(200);
    const [eventId] = await http.send({ name: "e2e/remote.guarded", data: {} });
    const run = (await http.settledRuns(eventId!, 1)).get("remote-e2e-other-guarded")!;
    expect(run).toMatchObject({ status: "failed", error: { code: "remote_unauthorized" } });
    expect(app.count("guarded")).toBe(0);
    await app.stop();
  });

  it("fails a run whose app answers unsigned (an app in dev mode behind an engine with a key)", async () => {
    const app = await new InngestApp({ id: "remote-e2e-devmode", engineUrl: dev.url, signingKey: SIGNING_KEY, isDev: true }).start();
    const res = await register(app, `Bearer ${hashed(SIGNING_KEY)}`, "remote-e2e-devmode-guarded", "e2e/remote.unsigned");
    expect(res.status).toBe(200);
    const [eventId] = await http.send({ name: "e2e/remote.unsigned", data: {} });
    const run = (await http.settledRuns(eventId!, 1)).get("remote-e2e-devmode-guarded")!;
    expect(run).toMatchObject({ status: "failed", error: { code: "remote_signature_invalid" } });
    await app.stop();
  });
});

describe("a restart", () => {
  it("a remote run asleep when wrangler is killed wakes after the restart; no step runs twice", async () => {
    const app = await new InngestApp({ id: "remote-e2e-restart", engineUrl: dev.url, signingKey: SIGNING_KEY }).start();
    expect((await http.api("/api/v1/apps", { json: { url: app.url } })).status).toBe(200);
    const [eventId] = await http.send({ name: "e2e/remote.restart", data: {} });
    const runId = await waitFor(
      async () => {
        // Earlier tests' apps subscribe to the same event (some are stopped): pick this app's run.
        const run = (await http.event(eventId!)).runs.find((r) => r.functionId === "remote-e2e-restart-across");
        return run && (await http.run(run.id)).status === "sleeping" ? run.id : undefined;
      },
      "the remote run to sleep",
      60_000,
    );
    await dev.restart("SIGKILL");
    const done = await waitFor(
      async () => {
        const run = await http.run(runId).catch(() => undefined);
        return run?.status === "completed" ? run : undefined;
      },
      "the remote run to end after the restart",
      60_000,
    );
    expect(done.output).toEqual({ before: "b", after: "a" });
    expect([app.count("before"), app.count("after-restart")]).toEqual([1, 1]);
    await app.stop();
  }, 180_000);
});

/** The register call's bearer token, as the SDK derives it from the key. */
function hashed(key: string): string {
  const prefix = /^signkey-\w+-/.exec(key)?.[0] ?? "";
  return (
    prefix +
    createHash("sha256")
      .update(Buffer.from(key.slice(prefix.length), "hex"))
      .digest("hex")
  );
}
