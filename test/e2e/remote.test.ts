import { describe, expect, it } from "vitest";
import { type StepflareHttp, waitFor } from "./client";
import type { WranglerDev } from "./harness";
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
  });

  it("one event starts the local function and two remote ones; steps are memoized, parallel, sleep and wait", async () => {
    const tag = `t${Date.now()}`;
    const [eventId] = await http.send({ name: "e2e/remote", data: { tag, n: 1 } });
    // The local run and the sequential remote one end; the waiting one waits for its event.
    const settled = await http.settledRuns(eventId!, 2);
    expect(settled.get("remote-neighbour")).toMatchObject({ status: "completed", output: { local: tag } });
    expect(settled.get("remote-e2e-sequential")).toMatchObject({ status: "completed", output: { a: 2, b: 4, c: 5, d: 6 } });
    // Each step ran once in the app, however many times the app was called.
    for (const step of ["a", "b", "c", "d"]) expect(app.count(`${step}:${tag}`)).toBe(1);
    const detail = settled.get("remote-e2e-sequential")!;
    expect(detail.steps).toHaveLength(5);

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
});
