// The keys that guard the engine: the management API key and the event keys.
import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../../src";
import worker from "../worker/index";
import { BASE } from "./helpers";

const testEnv = env as unknown as Env;

describe("the management API's key", () => {
  it("answers 401 without the key when one is configured, and 200 with it; never echoing it", async () => {
    const locked = { ...testEnv, STEPFLARE_DEV: undefined, API_KEY: "sekrit-api-key" } as Env;
    const call = (headers: Record<string, string> = {}) =>
      worker.fetch(new Request(`${BASE}/api/v1/runs`, { headers }), locked, createExecutionContext());
    const none = await call();
    expect(none.status).toBe(401);
    const wrong = await call({ authorization: "Bearer nope" });
    const wrongBody = await wrong.text();
    expect(wrong.status).toBe(401);
    expect(wrongBody).not.toContain("nope");
    expect(wrongBody).toContain("unauthorized");
    expect((await call({ authorization: "Bearer sekrit-api-key" })).status).toBe(200);
    // Outside dev mode with no key configured, the API stays closed.
    const unset = { ...testEnv, STEPFLARE_DEV: undefined, API_KEY: undefined } as Env;
    expect((await worker.fetch(new Request(`${BASE}/api/v1/runs`), unset, createExecutionContext())).status).toBe(401);
  });
});

describe("event keys", () => {
  it("accepts only configured event keys outside dev mode, answering the same 401 whatever the reason", async () => {
    const locked = { ...testEnv, STEPFLARE_DEV: undefined, EVENT_KEYS: "key-one, key-two" } as Env;
    const send = (key: string, e: Env = locked) =>
      worker.fetch(
        new Request(`${BASE}/e/${key}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ name: "nobody/listens" }),
        }),
        e,
        createExecutionContext(),
      );
    // An unknown key, a prefix, a key with more after it, another case, the list itself; and any key with none configured.
    const refused = [
      ...(await Promise.all(["key-three", "key-on", "key-one-", "KEY-ONE", "key-one,key-two"].map((k) => send(k)))),
      await send("key-one", { ...locked, EVENT_KEYS: undefined }),
    ];
    const answers = await Promise.all(refused.map(async (r) => ({ status: r.status, text: await r.text() })));
    expect(answers[0]).toMatchObject({ status: 401, text: expect.stringContaining("unauthorized") });
    for (const a of answers) expect(a).toEqual(answers[0]);
    expect(answers[0]!.text).not.toMatch(/key-(one|two|three)/i);
    expect((await send("key-one")).status).toBe(200);
    expect((await send("key-two")).status).toBe(200);
  });
});
