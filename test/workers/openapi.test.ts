import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { z } from "zod";
import type { Env } from "../../src";
import { openApiDocument, openApiPath } from "../../src/api/openapi";
import { type Operation, operations } from "../../src/api/operations";
import { buildApp } from "../../src/app";
import { resolveConfig } from "../../src/config";
import { allFunctions, app } from "../worker/functions";
import worker from "../worker/index";
import { BASE, sendEvents, settledRuns, waitFor } from "./helpers";

type Json = Record<string, unknown>;
// The test Worker's engine: its functions and event schemas, and the default ingest limits the document shows.
const config = resolveConfig({ functions: allFunctions, schemas: app.schemas });
const ops = operations(config);
const doc = openApiDocument(config) as { paths: Record<string, Record<string, Json>> };
const op = (id: string) => ops.find((o) => o.id === id)!;

/** The route's answer must be one the document gives for it: a documented status, and a body its schema takes. */
async function expectDocumented(o: Operation, res: Response, what: string): Promise<unknown> {
  const answer = o.responses[res.status];
  const json = (answer?.contentType ?? "application/json") === "application/json";
  expect(res.headers.get("content-type") ?? "", `${o.id}: ${what}: content type`).toContain(answer?.contentType ?? "application/json");
  const body: unknown = json ? await res.json() : await res.text();
  expect(answer, `${o.id}: ${what}: answered ${res.status} ${JSON.stringify(body)}, not documented`).toBeDefined();
  const parsed = answer!.body.safeParse(body);
  expect(parsed.error?.issues ?? [], `${o.id}: ${what}: ${res.status} ${JSON.stringify(body).slice(0, 300)}`).toEqual([]);
  return body;
}

const call = (o: Operation, path: string, init: { query?: string; body?: string } = {}) =>
  exports.default.fetch(`${BASE}${path}${init.query ? `?${init.query}` : ""}`, {
    method: o.method.toUpperCase(),
    ...(init.body !== undefined ? { body: init.body, headers: { "content-type": "application/json" } } : {}),
  });

/** Values the document's JSON Schema for one field refuses: each names the rule it breaks. */
function refusedValues(schema: Json, where: "query" | "body"): [string, unknown][] {
  const out: [string, unknown][] = [];
  const num = (n: number) => (where === "query" ? String(n) : n);
  if (Array.isArray(schema.enum)) out.push(["not in its enum", "not-one-of-them"]);
  if (typeof schema.maxLength === "number") out.push(["over maxLength", "x".repeat(schema.maxLength + 1)]);
  if (typeof schema.minLength === "number" && schema.minLength > 0) out.push(["under minLength", ""]);
  if (schema.type === "integer") {
    out.push(["not an integer", num(1.5)]);
    if (typeof schema.maximum === "number") out.push(["over maximum", num(schema.maximum + 1)]);
    if (typeof schema.minimum === "number") out.push(["under minimum", num(schema.minimum - 1)]);
  }
  if (Array.isArray(schema.oneOf)) out.push(["none of its forms", "yesterday"]);
  if (where === "body" && schema.type === "string") out.push(["not a string", 12]);
  if (where === "body" && schema.type === "integer") out.push(["not a number", "7"]);
  return out;
}

describe("the OpenAPI document", () => {
  it("is served at /api/openapi.json without a key, outside dev mode too, where /api/v1 needs one", async () => {
    const cloud = { ...(env as unknown as Env), STEPFLARE_DEV: undefined, API_KEY: "an-api-key" } as Env;
    const fetchAs = async (path: string) => {
      const ctx = createExecutionContext();
      const res = await worker.fetch(new Request(`${BASE}${path}`), cloud, ctx);
      await waitOnExecutionContext(ctx);
      return res;
    };
    const served = await fetchAs("/api/openapi.json");
    expect(served.status).toBe(200);
    expect(await served.json()).toEqual(doc);
    expect((await fetchAs("/api/v1/runs")).status).toBe(401);
    expect(doc).toMatchObject({ openapi: "3.1.0", components: { securitySchemes: { apiKey: { type: "http", scheme: "bearer" } } } });
    // No secret reaches it: it is built from code alone, never from env.
    expect(JSON.stringify(await fetchAs("/api/openapi.json").then((r) => r.json()))).not.toContain("an-api-key");
  });

  it("names every route of the Hono app, and no route the app does not have", () => {
    const routes = buildApp(config)
      // Middleware, and the dashboard's pages and forms (a browser's, not the API; docs/dashboard.md).
      .routes.filter((r) => r.method !== "ALL" && !r.path.startsWith("/dashboard"))
      .map((r) => `${r.method.toLowerCase()} ${openApiPath(r.path)}`);
    const documented = Object.entries(doc.paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m} ${path}`));
    expect(new Set(routes).size).toBe(routes.length);
    expect([...routes].sort()).toEqual([...documented].sort());
  });

  it("documents every error code with its status, as the errors' envelope", () => {
    for (const o of ops) {
      for (const [status, answer] of Object.entries(o.responses)) {
        if (Number(status) < 400) continue;
        const schema = doc.paths[openApiPath(o.path)]![o.method] as { responses: Record<string, Json> };
        expect(JSON.stringify(schema.responses[status]), `${o.id} ${status}`).toContain('"enum"');
        expect(answer.body.safeParse({ error: { code: "not-a-documented-code", message: "m" } }).success).toBe(false);
      }
    }
  });
});

describe("a request the document refuses is refused by the route, with a documented code", () => {
  for (const o of ops.filter((x) => x.query)) {
    it(`${o.id}: every query parameter out of its schema, an unknown one, and one given twice`, async () => {
      const params = (doc.paths[openApiPath(o.path)]![o.method] as { parameters: { name: string; in: string; schema: Json }[] }).parameters;
      const cases: [string, string][] = [
        ["an unknown parameter", "bogus=1"],
        ["a parameter given twice", "limit=5&limit=6"],
      ];
      for (const p of params.filter((x) => x.in === "query")) {
        for (const [rule, value] of refusedValues(p.schema, "query")) {
          expect(o.query!.safeParse({ [p.name]: value }).success, `${p.name} ${rule}`).toBe(false);
          cases.push([`${p.name} ${rule}`, `${p.name}=${encodeURIComponent(String(value))}`]);
        }
      }
      expect(cases.length).toBeGreaterThan(6);
      for (const [what, query] of cases) {
        const res = await call(o, o.path, { query });
        expect(res.status, `${o.id}: ${what}`).toBe(400);
        await expectDocumented(o, res, what);
      }
    });
  }

  const bodyPath = (o: Operation) => o.path.replace(":runId", "01ARZ3NDEKTSV4RRFFQ69G5FAV");
  for (const o of ops.filter((x) => x.body && x.auth === "api-key")) {
    it(`${o.id}: every body field out of its schema, an unknown field, a body not an object, not JSON`, async () => {
      const schema = (doc.paths[openApiPath(o.path)]![o.method] as { requestBody: { content: { "application/json": { schema: Json } } } })
        .requestBody.content["application/json"].schema;
      const cases: [string, string][] = [
        ["an unknown field", JSON.stringify({ bogus: 1 })],
        ["an array", "[]"],
        ["not JSON", "{"],
      ];
      for (const [name, field] of Object.entries(schema.properties as Record<string, Json>)) {
        for (const [rule, value] of refusedValues(field, "body")) {
          expect(o.body!.safeParse({ [name]: value }).success, `${name} ${rule}`).toBe(false);
          cases.push([`${name} ${rule}`, JSON.stringify({ [name]: value })]);
        }
      }
      for (const [what, body] of cases) {
        const res = await call(o, bodyPath(o), { body });
        expect(res.status, `${o.id}: ${what}`).toBe(400);
        await expectDocumented(o, res, what);
      }
    });
  }

  it("sendEvents: each event field out of its schema, no events, too many", async () => {
    const o = op("sendEvents");
    const body = (doc.paths["/e/{eventKey}"]!.post as { requestBody: { content: { "application/json": { schema: Json } } } }).requestBody
      .content["application/json"].schema as { oneOf: [{ oneOf: Json[] }, Json & { maxItems: number }] };
    const [events, list] = body.oneOf;
    const event = events.oneOf.at(-1)!; // an event of a name with no schema
    const cases: [string, unknown][] = [
      ["no name", { data: {} }],
      ["no events", []],
      ["too many events", Array.from({ length: list.maxItems + 1 }, () => ({ name: "test/none" }))],
      ["a name of the wrong form", { name: "has space" }],
      ["data not an object", { name: "test/none", data: [1] }],
    ];
    for (const [name, field] of Object.entries(event.properties as Record<string, Json>)) {
      for (const [rule, value] of refusedValues(field, "body")) cases.push([`${name} ${rule}`, { name: "test/none", [name]: value }]);
    }
    for (const [what, events] of cases) {
      expect((o.body as z.ZodType).safeParse(events).success, what).toBe(false);
      const res = await call(o, "/e/test-key", { body: JSON.stringify(events) });
      expect(res.status, what).toBe(400);
      await expectDocumented(o, res, what);
    }
  });

  it("sendEvents: the document holds each event schema, and an event its schema refuses is refused", async () => {
    const body = (doc.paths["/e/{eventKey}"]!.post as { requestBody: { content: { "application/json": { schema: Json } } } }).requestBody
      .content["application/json"].schema as { oneOf: [{ oneOf: { properties: { name: Json; data: Json } }[] }] };
    const variants = body.oneOf[0].oneOf;
    expect(variants.map((v) => v.properties.name.const)).toEqual([...Object.keys(app.schemas).sort(), undefined]);
    expect(variants.at(-1)!.properties.name).toMatchObject({ not: { enum: Object.keys(app.schemas).sort() } });
    const typed = variants.find((v) => v.properties.name.const === "test/typed")!;
    expect(typed.properties.data).toMatchObject({ type: "object", properties: { n: { type: "integer" } }, required: ["n"] });
    const o = op("sendEvents");
    for (const data of [{ n: "two" }, { n: 1.5 }, {}]) {
      const res = await call(o, "/e/test-key", { body: JSON.stringify({ name: "test/typed", data }) });
      expect(res.status, JSON.stringify(data)).toBe(400);
      await expectDocumented(o, res, `test/typed with ${JSON.stringify(data)}`);
    }
  });

  it("a run id of the wrong form is the documented 404", async () => {
    for (const o of [op("getRun"), op("replayRun")]) {
      expect(o.params!.runId!.safeParse("not-a-ulid").success).toBe(false);
      const res = await call(o, o.path.replace(":runId", "not-a-ulid"), o.method === "post" ? { body: "{}" } : {});
      expect(res.status).toBe(404);
      await expectDocumented(o, res, "a run id of the wrong form");
    }
  });
});

describe("every route answers as documented", () => {
  it("a run that fails, its dead letter, its replay, its event, and the pages listing them", async () => {
    const tag = `openapi-${Date.now()}`;
    const [eventId] = await sendEvents({ name: "test/flaky", data: { tag, failTimes: 1, mode: "non-retriable" } });
    const [failed] = await settledRuns(eventId!);
    expect(failed?.status).toBe("failed");

    await expectDocumented(op("getInfo"), await call(op("getInfo"), "/"), "the engine");
    await expectDocumented(op("getOpenApi"), await call(op("getOpenApi"), "/api/openapi.json"), "the document");
    await expectDocumented(op("getRun"), await call(op("getRun"), `/api/v1/runs/${failed!.id}`), "a failed run");
    await expectDocumented(op("getEvent"), await call(op("getEvent"), `/api/v1/events/${eventId}`), "the event");
    await expectDocumented(op("getEvent"), await call(op("getEvent"), "/api/v1/events/no-such-event"), "no such event");
    await waitFor(async () => {
      const res = await call(op("listRuns"), "/api/v1/runs", { query: "functionId=flaky&status=failed" });
      const page = (await expectDocumented(op("listRuns"), res, "the failed runs")) as { runs: { id: string }[] };
      return page.runs.some((r) => r.id === failed!.id) ? true : undefined;
    }, "the failed run in the listing");
    const letters = await waitFor(async () => {
      const res = await call(op("listDeadLetters"), "/api/v1/dead-letters", { query: "functionId=flaky" });
      const page = (await expectDocumented(op("listDeadLetters"), res, "the dead letters")) as { deadLetters: { runId: string }[] };
      return page.deadLetters.some((d) => d.runId === failed!.id) ? page : undefined;
    }, "the dead letter");
    expect(letters.deadLetters.length).toBeGreaterThan(0);

    const replay = op("replayRun");
    expect(
      await expectDocumented(replay, await call(replay, `/api/v1/runs/${failed!.id}/replay`, { body: "{}" }), "a replay"),
    ).toMatchObject({
      replayed: true,
    });
    const replayed = await waitFor(async () => {
      const res = await call(op("getRun"), `/api/v1/runs/${failed!.id}`);
      const run = (await expectDocumented(op("getRun"), res, "a replayed run")) as { status: string };
      return run.status === "completed" ? run : undefined;
    }, "the replayed run to complete");
    expect(replayed).toMatchObject({ replays: [{ from: "failed-step" }] });
    const again = await call(replay, `/api/v1/runs/${failed!.id}/replay`, { body: "{}" });
    expect(again.status).toBe(409);
    await expectDocumented(replay, again, "a replay of a completed run");

    const bulk = op("replayDeadLetters");
    await expectDocumented(
      bulk,
      await call(bulk, "/api/v1/dead-letters/replay", { body: JSON.stringify({ functionId: "flaky" }) }),
      "bulk",
    );
    const dispatch = op("dispatchEvent");
    const res = await call(dispatch, `/api/v1/events/${eventId}/dispatch`);
    expect(res.status).toBe(202);
    await expectDocumented(dispatch, res, "a dispatch");
  });
});
