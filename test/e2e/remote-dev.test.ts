import { describe, expect, it } from "vitest";
import type { StepflareHttp } from "./client";
import type { WranglerDev } from "./harness";
import { InngestApp } from "./inngest-app";
import { serveDuringFile } from "./suite";

// Dev mode on both sides, as with Inngest's dev server: the engine has no signing key, the app runs with
// isDev, and nothing is signed. (remote.test.ts runs the same app signed, as in production.)
let dev: WranglerDev;
let http: StepflareHttp;
serveDuringFile({ config: "test/e2e/worker/wrangler.toml", vars: { STEPFLARE_DEV: "true" } }, (d, h) => {
  dev = d;
  http = h;
});

describe("an inngest app in dev mode, with no signing key anywhere", () => {
  it("syncs and runs its steps unsigned", async () => {
    const app = await new InngestApp({ id: "remote-dev", engineUrl: dev.url, isDev: true }).start();
    expect((await http.api("/api/v1/apps", { json: { url: app.url } })).status).toBe(200);
    const tag = `dev${Date.now()}`;
    const [eventId] = await http.send({ name: "e2e/remote", data: { tag, n: 10 } });
    const runs = await http.settledRuns(eventId!, 2);
    expect(runs.get("remote-dev-sequential")).toMatchObject({ status: "completed", output: { a: 11, b: 22, c: 23, d: 24 } });
    for (const step of ["a", "b", "c", "d"]) expect(app.count(`${step}:${tag}`)).toBe(1);
    await app.stop();
  });
});
