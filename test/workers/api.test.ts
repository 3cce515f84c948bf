import { createExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../../src";
import worker from "../worker/index";
import { api, BASE } from "./helpers";

const errorOf = async (res: Response) => ({
  status: res.status,
  ...((await res.json()) as { error: { code: string; message: string } }).error,
});

const postJson = (path: string, body: BodyInit) =>
  exports.default.fetch(`${BASE}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body });

describe("management API bodies", () => {
  it("refuses a replay body that is not UTF-8 with invalid_json", async () => {
    const bytes = new Uint8Array([...new TextEncoder().encode('{"functionId":"'), 0xff, ...new TextEncoder().encode('"}')]);
    for (const path of ["/api/v1/dead-letters/replay", "/api/v1/runs/01ARZ3NDEKTSV4RRFFQ69G5FAV/replay"]) {
      const error = await errorOf(await postJson(path, bytes));
      expect(error).toMatchObject({ status: 400, code: "invalid_json" });
      expect(error.message).toContain("not valid UTF-8");
    }
  });
});

const testEnv = env as unknown as Env;
const listed = async (query: string) => {
  const { status, body } = await api<{ deadLetters: { id: string }[]; error?: { code: string; message: string } }>(
    `/api/v1/dead-letters?${query}`,
  );
  return { status, ids: body.deadLetters?.map((d) => d.id), error: body.error };
};

describe("dead-letter time filters", () => {
  const AT = Date.parse("2024-02-29T12:00:00.000Z");
  const FN = "api-time-filter";

  it("take epoch ms (digits) or a strict ISO 8601 date-time in the query, exclusive `until`, and nothing looser", async () => {
    await testEnv.DB.prepare(
      "INSERT INTO dead_letters (id, source, function_id, error_name, error_message, failed_at) VALUES ('dl-time', 'test', ?, 'E', 'm', ?)",
    )
      .bind(FN, AT)
      .run();
    const at = (q: string) => listed(`functionId=${FN}&${q}`);
    expect((await at(`since=${AT}`)).ids).toEqual(["dl-time"]);
    expect((await at(`since=${AT + 1}`)).ids).toEqual([]);
    expect((await at(`until=${AT}`)).ids).toEqual([]);
    expect((await at(`until=${AT + 1}`)).ids).toEqual(["dl-time"]);
    expect((await at("since=0")).ids).toEqual(["dl-time"]);
    expect((await at("since=2024-02-29T12:00:00Z")).ids).toEqual(["dl-time"]);
    expect((await at("since=2024-02-29T12:00:00.001Z")).ids).toEqual([]);
    expect((await at(`since=${encodeURIComponent("2024-02-29T13:00:00+01:00")}`)).ids).toEqual(["dl-time"]);
    expect((await at(`since=${encodeURIComponent("2024-02-29T13:00:00.001+01:00")}`)).ids).toEqual([]);
    for (const bad of [
      "",
      "1.5",
      "-1",
      "1e3",
      "0x10",
      " 5",
      "true",
      "null",
      "2024-02-30T00:00:00Z",
      "2023-02-29T00:00:00Z",
      "foo 12",
      "2024-01-01",
      "2024-01-01T00:00:00",
      "99999999999999999",
    ]) {
      const res = await at(`since=${encodeURIComponent(bad)}`);
      expect({ bad, status: res.status, code: res.error?.code }).toEqual({ bad, status: 400, code: "invalid_query" });
      expect(res.error?.message).toMatch(/^since: expected epoch milliseconds/);
    }
    expect((await at("until=foo 12")).error?.message).toMatch(/^until: expected epoch milliseconds/);
  });

  it("take a JSON number of epoch ms or a strict ISO 8601 string in a replay body, and nothing looser", async () => {
    const replay = (filters: Record<string, unknown>) =>
      api<{ replayed?: number; error?: { code: string; message: string } }>("/api/v1/dead-letters/replay", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ functionId: FN, ...filters }),
      });
    for (const good of [0, AT, "2024-02-29T12:00:00Z", "2024-02-29T13:00:00+01:00"]) {
      expect(await replay({ since: good, until: good })).toMatchObject({ status: 200, body: { replayed: 0 } });
    }
    for (const bad of ["", null, true, "1.5", 1.5, -1, "1700000000000", "2024-02-30T00:00:00Z", "foo 12", {}, [1]]) {
      const res = await replay({ since: bad });
      expect({ bad, status: res.status, code: res.body.error?.code }).toEqual({ bad, status: 400, code: "invalid_request" });
      expect(res.body.error?.message).toMatch(/^since: expected epoch milliseconds/);
    }
    // An unknown field is named by its first 64 units, however long, never half a surrogate pair.
    const long = `${"k".repeat(63)}\u{1F680}${"x".repeat(5000)}`;
    const unknown = await replay({ [long]: 1 });
    expect({ status: unknown.status, code: unknown.body.error?.code }).toEqual({ status: 400, code: "invalid_request" });
    expect(unknown.body.error?.message).toBe(`${"k".repeat(63)}: not a field of this request`);
    // One run's replay says the same of an unknown field, and names `from` only when `from` is wrong.
    const one = (body: unknown) =>
      api<{ error?: { code: string; message: string } }>(`/api/v1/runs/${"0".repeat(26)}/replay`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    expect(await one({ frm: "start" })).toMatchObject({
      status: 400,
      body: { error: { code: "invalid_request", message: "frm: not a field of this request" } },
    });
    expect(await one({ from: "end" })).toMatchObject({
      status: 400,
      body: { error: { code: "invalid_request", message: 'from: must be "failed-step" or "start"' } },
    });
  });
});

describe("dead-letter listing", () => {
  it("filters by any error code a dead letter can hold, up to a clipped one of 256 characters and its suffix", async () => {
    const { serializeError } = await import("../../sdk/errors");
    const code = serializeError(Object.assign(new Error("m"), { code: "c".repeat(5000) })).code!;
    expect(code.length).toBeGreaterThan(256);
    await testEnv.DB.prepare(
      "INSERT INTO dead_letters (id, source, function_id, error_name, error_message, error_code, failed_at) VALUES ('long-code', 'test', 'api-long-code', 'E', 'm', ?, 1)",
    )
      .bind(code)
      .run();
    const { status, body } = await api<{ deadLetters: { id: string }[] }>(`/api/v1/dead-letters?code=${encodeURIComponent(code)}`);
    expect(status).toBe(200);
    expect(body.deadLetters.map((d) => d.id)).toEqual(["long-code"]);
    const replay = await postJson("/api/v1/dead-letters/replay", JSON.stringify({ code }));
    expect(replay.status).toBe(200);
  });
});

describe("query parameters", () => {
  it("refuses a parameter given more than once with invalid_query naming it, and takes each given once", async () => {
    for (const [path, name] of [
      ["/api/v1/runs?limit=5&limit=500", "limit"],
      ["/api/v1/runs?status=failed&status=completed", "status"],
      ["/api/v1/runs?functionId=a&limit=5&functionId=a", "functionId"],
      ["/api/v1/dead-letters?since=1&until=2&since=0", "since"],
      ["/api/v1/dead-letters?cursor=&cursor=", "cursor"],
    ] as const) {
      const { status, body } = await api<{ error: { code: string; message: string } }>(path);
      expect({ path, status, code: body.error?.code }).toEqual({ path, status: 400, code: "invalid_query" });
      expect(body.error.message).toMatch(new RegExp(`^${name}: given 2 times`));
    }
    expect((await api("/api/v1/runs?limit=5&status=failed")).status).toBe(200);
    expect((await api("/api/v1/dead-letters?since=1&until=2&limit=5")).status).toBe(200);
  });

  it("names a long parameter or id in its error by its first 64 units, never half a surrogate pair", async () => {
    // 63 units, then a rocket (a surrogate pair): a cut at 64 would keep only its first half.
    const long = `${"b".repeat(63)}\u{1F680}tail`;
    const q = encodeURIComponent(long);
    const repeated = await api<{ error: { code: string; message: string } }>(`/api/v1/runs?${q}=1&${q}=2`);
    expect(repeated.status).toBe(400);
    expect(repeated.body.error.message).toBe(`${"b".repeat(63)}: given 2 times; give it once`);
    // A parameter the route does not take is named the same way.
    const unknown = await api<{ error: { code: string; message: string } }>(`/api/v1/runs?${q}=1`);
    expect({ status: unknown.status, code: unknown.body.error.code }).toEqual({ status: 400, code: "invalid_query" });
    expect(unknown.body.error.message).toBe(`${"b".repeat(63)}: not a parameter of this route`);
    for (const [path, code, what] of [
      ["/api/v1/runs/", "run_not_found", "run"],
      ["/api/v1/events/", "event_not_found", "event"],
    ] as const) {
      const { status, body } = await api<{ error: { code: string; message: string } }>(`${path}${q}`);
      expect({ status, code: body.error.code }).toEqual({ status: 404, code });
      expect(body.error.message).toBe(`no ${what} with id ${JSON.stringify("b".repeat(63))}`);
    }
  });

  it("takes a page limit of 1 to 100 written in digits, and nothing looser", async () => {
    for (const path of ["/api/v1/runs", "/api/v1/dead-letters"]) {
      for (const ok of ["1", "100", "020"]) expect({ ok, status: (await api(`${path}?limit=${ok}`)).status }).toEqual({ ok, status: 200 });
      for (const bad of ["0", "101", "0x10", "1e1", "%205", "5.0", "", "-1"]) {
        const { status, body } = await api<{ error: { code: string } }>(`${path}?limit=${bad}`);
        expect({ bad, status, code: body.error?.code }).toEqual({ bad, status: 400, code: "invalid_query" });
      }
    }
  });
});

describe("the API key's scheme", () => {
  it("is case-insensitive, as HTTP authentication schemes are: bearer and BEARER pass with the right key, never with a wrong one", async () => {
    const locked = { ...(env as unknown as Env), STEPFLARE_DEV: undefined, API_KEY: "scheme-api-key" } as Env;
    const status = async (authorization: string) =>
      (await worker.fetch(new Request(`${BASE}/api/v1/runs?limit=1`, { headers: { authorization } }), locked, createExecutionContext()))
        .status;
    for (const scheme of ["Bearer", "bearer", "BEARER", "Bearer  "]) {
      expect({ scheme, status: await status(`${scheme} scheme-api-key`) }).toEqual({ scheme, status: 200 });
      expect({ scheme, status: await status(`${scheme} scheme-api-kex`) }).toEqual({ scheme, status: 401 });
    }
    for (const header of ["scheme-api-key", "Basic scheme-api-key", "Bearerscheme-api-key", "Bearer", "Bearer "]) {
      expect({ header, status: await status(header) }).toEqual({ header, status: 401 });
    }
  });
});
