import { Inngest } from "inngest";
import { describe, expect, it } from "vitest";
import type { ErrorBody, StepflareHttp } from "./client";
import type { WranglerDev } from "./harness";
import { serveDuringFile } from "./suite";

// Outside dev mode: event keys from EVENT_KEYS, the API behind API_KEY.
const EVENT_KEY = "e2e-secret-key";
const API_KEY = "e2e-api-key";
const WRONG_KEY = "e2e-wrong-key-0123";

let dev: WranglerDev;
let http: StepflareHttp;
serveDuringFile(
  { config: "examples/app/wrangler.toml", vars: { EVENT_KEYS: EVENT_KEY, API_KEY } },
  (d, h) => {
    dev = d;
    http = h;
  },
  { eventKey: EVENT_KEY, apiKey: API_KEY },
);

const signup = { name: "app/user.signup", data: { user: { id: "u-keys", email: "keys@example.com" } } };

describe("event keys and the API key outside dev mode", () => {
  it("401 unauthorized for an unknown event key, without echoing it", async () => {
    const res = await http.post(signup, { eventKey: WRONG_KEY });
    const text = await res.text();
    expect(res.status).toBe(401);
    expect(JSON.parse(text)).toMatchObject({ error: { code: "unauthorized" } });
    expect(text).not.toContain(WRONG_KEY);
    expect(text).not.toContain(EVENT_KEY);
  });

  it("401 for a key that only differs by case or by a prefix of the real one", async () => {
    for (const key of [EVENT_KEY.toUpperCase(), EVENT_KEY.slice(0, -1), `${EVENT_KEY}x`]) {
      expect((await http.post(signup, { eventKey: key })).status).toBe(401);
    }
  });

  it("401 before anything else: a bad key with a bad body is still a 401", async () => {
    const res = await http.post("{not json", { eventKey: WRONG_KEY, contentType: "text/plain" });
    expect(res.status).toBe(401);
  });

  it("200 for the right key, and the event runs", async () => {
    const ids = await http.send(signup);
    expect(ids).toHaveLength(1);
    const runs = await http.settledRuns(ids[0]!, 4);
    expect([...runs.values()].every((r) => r.status === "completed")).toBe(true);
  });

  it("the inngest client with the right key is accepted", async () => {
    const inngest = new Inngest({ id: "stepflare-e2e-keys", baseUrl: dev.url, eventKey: EVENT_KEY, isDev: false });
    const { ids } = await inngest.send({ name: "e2e/no-subscriber", data: {} });
    expect((await http.event(ids[0]!)).event.name).toBe("e2e/no-subscriber");
  });

  it("/api/v1 answers 401 without the bearer key, or with a wrong one, and 200 with it", async () => {
    for (const apiKey of [null, WRONG_KEY, EVENT_KEY]) {
      const res = await http.api<ErrorBody>("/api/v1/runs", { apiKey });
      expect(res).toMatchObject({ status: 401, body: { error: { code: "unauthorized" } } });
      expect(JSON.stringify(res.body)).not.toContain(API_KEY);
    }
    const ok = await http.api<{ runs: unknown[] }>("/api/v1/runs");
    expect(ok.status).toBe(200);
    expect(ok.body.runs.length).toBeGreaterThanOrEqual(4);
    expect((await http.api("/api/v1/events/anything", { apiKey: null })).status).toBe(401);
  });

  it("the example's CRM switch is behind the API key too: 401 without it or with a wrong one, 200 with it", async () => {
    for (const apiKey of [null, WRONG_KEY, EVENT_KEY]) {
      for (const method of ["GET", "PUT"]) {
        const res = await http.api<ErrorBody>("/example/crm", { apiKey, method, ...(method === "PUT" ? { json: { down: true } } : {}) });
        expect(res).toMatchObject({ status: 401, body: { error: { code: "unauthorized" } } });
      }
    }
    expect(await http.api("/example/crm", { method: "PUT", json: { down: false } })).toEqual({ status: 200, body: { down: false } });
    expect(await http.api("/example/crm")).toEqual({ status: 200, body: { down: false } });
  });

  it("prints neither key: the only lines naming the event key are wrangler's own access log", async () => {
    // Let any background logging (queue consumers, runs) reach the buffer.
    await new Promise((r) => setTimeout(r, 1_000));
    const lines = dev.output().split("\n");
    expect(lines.filter((l) => l.includes(API_KEY))).toEqual([]);
    // Inngest's contract puts the event key in the URL path, and wrangler dev
    // logs every request path: `[wrangler:info] POST /e/<key> 200 OK (12ms)`.
    // That line is wrangler's, not the engine's; any other line is a leak.
    const accessLog = /^\[wrangler:info\] POST \/e\/[^ ]+ \d{3} /;
    expect(lines.filter((l) => l.includes(EVENT_KEY) && !accessLog.test(l.trim()))).toEqual([]);
    expect(lines.filter((l) => l.includes(WRONG_KEY) && !accessLog.test(l.trim()))).toEqual([]);
  });
});
