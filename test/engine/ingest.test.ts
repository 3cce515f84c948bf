import { createExecutionContext, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../../src";
import { callsOf } from "../engine-fixture/functions";
import worker from "../engine-fixture/index";
import { acceptedAtOf, api, BASE, eventStoreFailing, inIdShard, sendEvents, settledRuns, storedEvent, waitFor } from "./helpers";

const post = (body: BodyInit | null, headers: Record<string, string> = { "content-type": "application/json" }, key = "k") =>
  exports.default.fetch(`${BASE}/e/${key}`, { method: "POST", headers, body });

const testEnvOf = () => env as unknown as Env;

const errorOf = async (res: Response) => ({
  status: res.status,
  ...((await res.json()) as { error: { code: string; message: string } }).error,
});

describe("POST /e/:eventKey", () => {
  it("answers one id per event, in order, assigning sortable unique ids", async () => {
    const res = await post(
      JSON.stringify([{ name: "nobody/listens" }, { name: "nobody/listens", id: "given-id" }, { name: "nobody/listens" }]),
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as { ids: string[]; status: number };
    expect(body.status).toBe(200);
    expect(body.ids).toHaveLength(3);
    expect(body.ids[1]).toBe("given-id");
    expect(body.ids[0]).toMatch(/^[0-9A-Z]{26}$/);
    expect(body.ids[0]).not.toBe(body.ids[2]);
  });

  it("accepts an event nobody subscribes to, with zero runs", async () => {
    const [id] = await sendEvents({ name: "nobody/listens", data: { a: 1 } });
    const { status, body } = await api<{ runs: unknown[]; event: { name: string; data: unknown } }>(`/api/v1/events/${id}`);
    expect(status).toBe(200);
    expect(body.event).toMatchObject({ name: "nobody/listens", data: { a: 1 } });
    expect(body.runs).toEqual([]);
  });

  it("rejects malformed JSON with invalid_json", async () => {
    expect(await errorOf(await post("{nope"))).toMatchObject({ status: 400, code: "invalid_json" });
  });

  it("rejects a body that is not UTF-8 with invalid_json instead of storing U+FFFD, and keeps valid multi-byte text", async () => {
    const bytes = (...parts: (string | number[])[]) =>
      new Uint8Array(parts.flatMap((p) => (typeof p === "string" ? [...new TextEncoder().encode(p)] : p)));
    for (const bad of [
      bytes('{"name":"nobody/listens","id":"utf8-bad-1","data":{"s":"', [0xff], '"}}'),
      bytes('{"name":"nobody/listens","id":"utf8-bad-2","data":{"s":"', [0xe2, 0x82], '"}}'), // "€" cut off
    ]) {
      const error = await errorOf(await post(bad));
      expect(error).toMatchObject({ status: 400, code: "invalid_json" });
      expect(error.message).toContain("not valid UTF-8");
    }
    expect((await api("/api/v1/events/utf8-bad-1")).status).toBe(404);
    const [id] = await sendEvents({ name: "nobody/listens", id: "utf8-good", data: { s: "\u20ac \u{1F680}" } });
    expect((await api<{ event: { data: unknown } }>(`/api/v1/events/${id}`)).body.event.data).toEqual({ s: "\u20ac \u{1F680}" });
  });

  it("rejects a wrong shape with invalid_event, naming the index and the field", async () => {
    const missingName = await errorOf(await post(JSON.stringify([{ name: "ok/one" }, { data: {} }])));
    expect(missingName).toMatchObject({ status: 400, code: "invalid_event" });
    expect(missingName.message).toMatch(/^event 1: name/);
    const arrayData = await errorOf(await post(JSON.stringify({ name: "x/y", data: [1, 2] })));
    expect(arrayData).toMatchObject({ status: 400, code: "invalid_event" });
    expect(arrayData.message).toMatch(/^event 0: data/);
    const stringData = await errorOf(await post(JSON.stringify({ name: "x/y", data: "text" })));
    expect(stringData.message).toMatch(/^event 0: data/);
    expect(await errorOf(await post(JSON.stringify([])))).toMatchObject({ status: 400, code: "invalid_event" });
  });

  it("takes exactly 1000 events in one request and refuses 1001", async () => {
    const events = (n: number) => JSON.stringify(Array.from({ length: n }, () => ({ name: "nobody/listens" })));
    expect((await post(events(1000))).status).toBe(200);
    const tooMany = await errorOf(await post(events(1001)));
    expect(tooMany).toMatchObject({ status: 400, code: "invalid_event" });
    expect(tooMany.message).toContain("1001");
  });

  it("validates data against the event's zod schema", async () => {
    const bad = await errorOf(await post(JSON.stringify({ name: "test/typed", data: { n: "seven" } })));
    expect(bad).toMatchObject({ status: 400, code: "invalid_event" });
    expect(bad.message).toMatch(/^event 0: data\.n/);
    const [id] = await sendEvents({ name: "test/typed", data: { n: 7 } });
    const [run] = await settledRuns(id!);
    expect(run!.output).toBe(14);
  });

  it("refuses, and stores nothing of, a request whose schema output is not a JSON object (a BigInt, a number)", async () => {
    for (const [name, why] of [
      ["test/bigint-out", /not JSON: .*BigInt/i],
      ["test/scalar-out", /not an object/],
      ["test/date-out", /not an object/],
    ] as const) {
      const id = `schema-out-${name}`;
      const bad = await errorOf(await post(JSON.stringify([{ name: "nobody/listens" }, { name, id, data: { n: 3 } }])));
      expect(bad).toMatchObject({ status: 500, code: "invalid_schema_output" });
      expect(bad.message).toMatch(new RegExp(`^event 1: the schema for "${name}" `));
      expect(bad.message).toMatch(why);
      expect(await acceptedAtOf(id)).toBeUndefined();
    }
  });

  it("refuses an id that storage would change (a lone surrogate, a control character), and keeps one with a surrogate pair", async () => {
    // JSON.stringify writes a lone surrogate as the escape \ud800, which JSON.parse reads back as the lone surrogate.
    for (const id of ["\ud800x", "x\udc00", "tab\there"]) {
      const bad = await errorOf(await post(JSON.stringify({ name: "test/sequential", id, data: { tag: "odd-id", n: 1 } })));
      expect(bad).toMatchObject({ status: 400, code: "invalid_event" });
      expect(bad.message).toMatch(/^event 0: id: no control characters or unpaired surrogates/);
    }
    const emoji = "order-\u{1F680}-1";
    expect(await sendEvents({ name: "test/sequential", id: emoji, data: { tag: "emoji-id", n: 1 } })).toEqual([emoji]);
    const [run] = await settledRuns(encodeURIComponent(emoji));
    expect(run).toMatchObject({ status: "completed", eventId: emoji });
  });

  it("answers 503 ingest_unavailable when the event store refuses the write, grouped or alone, and a retry with the same ids is taken", async () => {
    const testEnv = testEnvOf();
    const refusing = { ...testEnv, EVENT_STORE: eventStoreFailing("store", new Error("shard overloaded")) };
    for (const size of [1, 60]) {
      const events = Array.from({ length: size }, (_, i) => ({ name: "nobody/listens", id: `refused-${size}-${i}` }));
      const send = (e: Env) =>
        worker.fetch(
          new Request(`${BASE}/e/k`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(events) }),
          e,
          createExecutionContext(),
        );
      const refused = await send(refusing);
      expect(await errorOf(refused)).toMatchObject({
        status: 503,
        code: "ingest_unavailable",
        message: expect.stringContaining("send them again"),
      });
      expect(await acceptedAtOf(events[0]!.id)).toBeUndefined();
      const retried = await send(testEnv);
      expect(retried.status).toBe(200);
      expect(await acceptedAtOf(events[size - 1]!.id)).toBeGreaterThan(0);
    }
  });

  it("answers once the event store has the events, without waiting for the queue send, which goes on under waitUntil", async () => {
    let release = () => {};
    const sendGate = new Promise<void>((r) => {
      release = r;
    });
    const testEnv = env as unknown as Env;
    // The real events queue, reached only once the gate opens.
    const slowQueue = {
      send: async (message: unknown) => {
        await sendGate;
        await testEnv.EVENTS.send(message as Parameters<Env["EVENTS"]["send"]>[0]);
      },
      sendBatch: async (messages: unknown[]) => {
        await sendGate;
        await testEnv.EVENTS.sendBatch(messages as Parameters<Env["EVENTS"]["sendBatch"]>[0]);
      },
    };
    // Both shards of the events queue (test/engine-fixture/wrangler.toml) reach the real first one.
    const slowEnv = { ...testEnv, EVENTS: slowQueue as unknown as Env["EVENTS"], EVENTS_1: slowQueue };
    const ctx = createExecutionContext();
    for (const size of [1, 60]) {
      // 1 event: the group-commit path; 60: a request written on its own.
      const events = Array.from({ length: size }, (_, i) => ({
        name: "test/sequential",
        id: `slow-send-${size}-${i}`,
        data: { tag: "slow-send", n: 1 },
      }));
      const res = await worker.fetch(
        new Request(`${BASE}/e/k`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(events) }),
        slowEnv,
        ctx,
      );
      expect(res.status).toBe(200);
      expect(await storedEvent(events[0]!.id)).toMatchObject({ dispatched_at: null }); // stored, not yet fanned out
    }
    release();
    await waitOnExecutionContext(ctx);
    for (const id of ["slow-send-1-0", "slow-send-60-59"]) expect((await settledRuns(id))[0]!.status).toBe("completed");
  });

  it("refuses a body over 1 MiB with 413 and takes one of exactly 1 MiB", async () => {
    const LIMIT = 1024 * 1024;
    const exact = (bytes: number) => {
      const shell = JSON.stringify({ name: "nobody/listens", data: { pad: "" } });
      return JSON.stringify({ name: "nobody/listens", data: { pad: "x".repeat(bytes - shell.length) } });
    };
    expect(new TextEncoder().encode(exact(LIMIT)).byteLength).toBe(LIMIT);
    expect((await post(exact(LIMIT))).status).toBe(200);
    expect(await errorOf(await post(exact(LIMIT + 1)))).toMatchObject({ status: 413, code: "payload_too_large" });
    // Streamed with no Content-Length: counted while reading.
    const chunk = new TextEncoder().encode("x".repeat(64 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent > LIMIT * 2) return controller.close();
        sent += chunk.byteLength;
        controller.enqueue(chunk);
      },
    });
    expect(await errorOf(await post(stream))).toMatchObject({ status: 413, code: "payload_too_large" });
  });

  it("takes a body of exactly 1 MiB that is mostly escaped quotes (JSON carried in a string), and keeps it whole", async () => {
    const LIMIT = 1024 * 1024;
    const shell = `{"name":"nobody/listens","id":"quoted-1mib","data":{"raw":""}}`;
    const fill = '\\"'.repeat((LIMIT - shell.length) / 2);
    const body = `{"name":"nobody/listens","id":"quoted-1mib","data":{"raw":"${fill}"}}`;
    expect(new TextEncoder().encode(body).byteLength).toBe(LIMIT);
    expect((await post(body)).status).toBe(200);
    // Stored once, the event's text is about its own size; escaped again inside a string it would be over 2 MB.
    const row = await storedEvent("quoted-1mib");
    expect(new TextEncoder().encode(row!.payload).byteLength).toBeLessThan(LIMIT + 1024);
    const { body: stored } = await api<{ event: { data: { raw: string } } }>("/api/v1/events/quoted-1mib");
    expect(stored.event.data.raw).toBe('"'.repeat(fill.length / 2));
  });

  it("refuses an event nested over 512 levels with invalid_event, and the requests sharing its write are still accepted", async () => {
    // The event object is level 1 and its data level 2, so `x` holding n nested arrays makes an event n + 2 levels deep.
    const nested = (tag: string, levels: number) =>
      `{"name":"nobody/listens","id":"${tag}","data":{"x":${"[".repeat(levels - 2)}${"]".repeat(levels - 2)}}}`;
    expect((await post(nested("nested-512", 512))).status).toBe(200);
    const { body } = await api<{ event: { data: { x: unknown } } }>("/api/v1/events/nested-512");
    expect(JSON.stringify(body.event.data.x)).toBe(`${"[".repeat(510)}${"]".repeat(510)}`);
    for (const levels of [513, 1000, 100_000]) {
      const error = await errorOf(await post(nested(`nested-${levels}`, levels)));
      expect(error).toMatchObject({ status: 400, code: "invalid_event", message: "event 0: data: nested more than 512 levels deep" });
    }
    // Sent together, the deep one and small ones share a group commit: only the deep one is refused.
    const small = (i: number) => post(JSON.stringify({ name: "nobody/listens", id: `beside-deep-${i}` }));
    const answers = await Promise.all([small(0), small(1), post(nested("deep-in-group", 2_000)), small(2), small(3)]);
    expect(answers.map((r) => r.status)).toEqual([200, 200, 400, 200, 200]);
    for (let i = 0; i < 4; i++) expect((await api(`/api/v1/events/beside-deep-${i}`)).status).toBe(200);
    expect((await api("/api/v1/events/deep-in-group")).status).toBe(404);
  });

  it("keeps a data key named __proto__ as sent, in the event store and in the run, instead of dropping it", async () => {
    const body = `{"name":"test/sequential","id":"proto-key","data":{"tag":"proto-key","n":1,"__proto__":{"kept":true}}}`;
    expect((await post(body)).status).toBe(200);
    const stored = await storedEvent("proto-key");
    expect(stored!.payload).toContain(`"__proto__":{"kept":true}`);
    const [run] = await settledRuns("proto-key");
    const runs = testEnvOf().RUNS;
    const event = await runInDurableObject(runs.get(runs.idFromName(run!.id)), (_instance, state) =>
      String(state.storage.sql.exec("SELECT json FROM event").one().json),
    );
    expect(event).toContain(`"__proto__":{"kept":true}`);
  });

  it("refuses other content types with 415", async () => {
    const res = await post("name=x", { "content-type": "application/x-www-form-urlencoded" });
    expect(await errorOf(res)).toMatchObject({ status: 415, code: "unsupported_media_type" });
    expect((await post(JSON.stringify({ name: "a/b" }), { "content-type": "application/json; charset=utf-8" })).status).toBe(200);
  });

  it("starts no new runs for an event id seen before, and answers the same id", async () => {
    const event = { name: "test/sequential", id: "dedupe-me-1", data: { tag: "dedupe", n: 1 } };
    expect(await sendEvents(event)).toEqual(["dedupe-me-1"]);
    await settledRuns("dedupe-me-1");
    const acceptance = await acceptedAtOf("dedupe-me-1");
    expect(await sendEvents([event, event])).toEqual(["dedupe-me-1", "dedupe-me-1"]);
    // Not accepted again: a new acceptance would name new runs.
    expect(await acceptedAtOf("dedupe-me-1")).toBe(acceptance);
    await new Promise((r) => setTimeout(r, 300));
    const { body } = await api<{ runs: unknown[] }>(`/api/v1/events/dedupe-me-1`);
    expect(body.runs).toHaveLength(1);
  });

  it("accepts an id again, as a new event with runs of its own, once its acceptance is older than the 24-hour window", async () => {
    const DAY = 24 * 60 * 60 * 1000;
    const id = "dedupe-window-1";
    const event = (n: number) => ({ name: "test/sequential", id, data: { tag: "dedupe-window", n } });
    await sendEvents(event(1));
    const [first] = await settledRuns(id);
    // The id index is what tells a duplicate: its acceptance is moved back.
    const age = (ms: number) => inIdShard(id, "UPDATE ids SET accepted_at = ? WHERE id = ?", Date.now() - ms, id);
    // A minute before the window ends: still a duplicate.
    await age(DAY - 60_000);
    const inside = await acceptedAtOf(id);
    expect(await sendEvents(event(2))).toEqual([id]);
    expect(await acceptedAtOf(id)).toBe(inside);
    // A second after it ended: accepted again, stored as sent now, and fanned out to a run of its own.
    await age(DAY + 1000);
    const before = Date.now();
    expect(await sendEvents(event(3))).toEqual([id]);
    expect(await acceptedAtOf(id)).toBeGreaterThanOrEqual(before);
    const runs = await settledRuns(id, 2);
    expect(runs.map((r) => r.id)).toContain(first!.id);
    const again = runs.find((r) => r.id !== first!.id);
    expect(again).toMatchObject({ status: "completed", output: [0, 2, 4] });
    expect((await api<{ event: { data: unknown } }>(`/api/v1/events/${id}`)).body.event.data).toEqual({ tag: "dedupe-window", n: 3 });
    expect(callsOf("dedupe-window", "handler")).toBe(2);
  });

  it("answers concurrent requests (sharing a write) each with its own ids; an id sent by several starts one run", async () => {
    const bodies = Array.from({ length: 30 }, (_, i) => ({
      name: "test/sequential",
      data: { tag: `concurrent-${i}`, n: 1 },
      ...(i % 10 === 0 ? { id: "concurrent-shared" } : i % 3 === 0 ? {} : { id: `concurrent-${i}` }),
    }));
    const answers = await Promise.all(bodies.map((b) => sendEvents(b)));
    answers.forEach((ids, i) => {
      const given = bodies[i]!.id;
      expect(ids).toEqual([given ?? expect.stringMatching(/^[0-9A-Z]{26}$/)]);
    });
    const distinct = new Set(answers.flat());
    expect(distinct.size).toBe(28); // 27 singles + the shared id
    for (const id of distinct) expect(await settledRuns(id)).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 300));
    const { body } = await api<{ runs: unknown[] }>(`/api/v1/events/concurrent-shared`);
    expect(body.runs).toHaveLength(1);
  });

  it("fans an event out to every matching function, wildcards included", async () => {
    const [id] = await sendEvents({ name: "wild/thing.happened", data: {} });
    const runs = await settledRuns(id!);
    expect(runs.map((r) => [r.functionId, r.output])).toEqual([["wildcard", "wild/thing.happened"]]);
  });

  it("lists runs newest first (by id: when each was created), filtered and paginated by cursor", async () => {
    const ids = await sendEvents(Array.from({ length: 5 }, (_, i) => ({ name: "test/sequential", data: { tag: `list${i}`, n: 1 } })));
    for (const id of ids) await settledRuns(id);
    type Page = { runs: { id: string; functionId: string; status: string; startedAt: string }[]; nextCursor: string | null };
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const q: string = `/api/v1/runs?functionId=sequential&status=completed&limit=2${cursor ? `&cursor=${cursor}` : ""}`;
      const { status, body }: { status: number; body: Page } = await api<Page>(q);
      expect(status).toBe(200);
      expect(body.runs.length).toBeLessThanOrEqual(2);
      for (const r of body.runs) expect(r).toMatchObject({ functionId: "sequential", status: "completed" });
      seen.push(...body.runs.map((r) => r.id));
      cursor = body.nextCursor;
    } while (cursor);
    expect(seen.length).toBeGreaterThanOrEqual(5);
    expect([...seen].sort().reverse()).toEqual(seen);
    expect(new Set(seen).size).toBe(seen.length);
    expect((await api("/api/v1/runs?limit=0")).body).toMatchObject({ error: { code: "invalid_query" } });
    expect((await api("/api/v1/runs?cursor=garbage")).body).toMatchObject({ error: { code: "invalid_query" } });
    void waitFor;
  });
});

describe("event id seeds", () => {
  it("gives a retried send with the same x-inngest-event-id-seed the same ids, and starts nothing twice", async () => {
    const body = JSON.stringify([{ name: "test/sequential", data: { tag: "seeded", n: 1 } }, { name: "nobody/listens" }]);
    const headers = { "content-type": "application/json", "x-inngest-event-id-seed": "1795335000000,q83vEjRWeJq83w==" };
    const first = (await (await post(body, headers)).json()) as { ids: string[] };
    const again = (await (await post(body, headers)).json()) as { ids: string[] };
    expect(again.ids).toEqual(first.ids);
    expect(first.ids[0]).not.toBe(first.ids[1]);
    await settledRuns(first.ids[0]!);
    await new Promise((r) => setTimeout(r, 200));
    expect((await api<{ runs: unknown[] }>(`/api/v1/events/${first.ids[0]}`)).body.runs).toHaveLength(1);
    const other = (await (await post(body, { ...headers, "x-inngest-event-id-seed": "1795335000000,AAAAAAAAAAAAAA==" })).json()) as {
      ids: string[];
    };
    expect(other.ids[0]).not.toBe(first.ids[0]);
    // A malformed seed is ignored: fresh ids.
    const junk = (await (await post(body, { ...headers, "x-inngest-event-id-seed": "soon,maybe" })).json()) as { ids: string[] };
    expect(junk.ids[0]).not.toBe(first.ids[0]);
  });
});
