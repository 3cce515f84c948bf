import { request } from "node:http";
import { describe, expect, it } from "vitest";
import { type ErrorBody, type StepflareHttp, waitFor } from "./client";
import type { WranglerDev } from "./harness";
import { serveDuringFile } from "./suite";

const LIMIT = 1024 * 1024;

let dev: WranglerDev;
let http: StepflareHttp;
serveDuringFile({ config: "examples/app/wrangler.toml", vars: { STEPFLARE_DEV: "true" } }, (d, h) => {
  dev = d;
  http = h;
});

async function expectError(res: Response, status: number, code: string, message?: RegExp): Promise<void> {
  const text = await res.text();
  expect({ status: res.status, text }).toMatchObject({ status });
  const body = JSON.parse(text) as ErrorBody;
  expect(Object.keys(body)).toEqual(["error"]);
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe("string");
  if (message) expect(body.error.message).toMatch(message);
}

/** Valid JSON for one event, padded to exactly `bytes` bytes of UTF-8. */
function eventOfSize(bytes: number): Buffer {
  const shell = (pad: string) => JSON.stringify({ name: "e2e/at-limit", data: { pad } });
  const text = shell("x".repeat(bytes - Buffer.byteLength(shell(""))));
  const buf = Buffer.from(text);
  if (buf.byteLength !== bytes) throw new Error(`built ${buf.byteLength} bytes, wanted ${bytes}`);
  return buf;
}

/**
 * Posts `body` with Transfer-Encoding: chunked and no Content-Length, in 64 KiB
 * writes. The server may answer (413) before the upload ends; the answer wins
 * over the broken pipe that follows.
 */
function postChunked(url: string, body: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "POST", headers: { "content-type": "application/json", "transfer-encoding": "chunked" } });
    let answered = false;
    req.on("response", (res) => {
      answered = true;
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on("error", reject);
    });
    req.on("error", (e) => {
      if (!answered) reject(e);
    });
    let offset = 0;
    const write = () => {
      while (offset < body.byteLength) {
        const chunk = body.subarray(offset, offset + 64 * 1024);
        offset += chunk.byteLength;
        if (!req.write(chunk)) return void req.once("drain", write);
      }
      req.end();
    };
    write();
  });
}

describe("ingest answers every bad request with its status and code", () => {
  it.each([
    ["a body that is not JSON", "{not json"],
    ["an empty body", ""],
    ["a truncated array", '[{"name":"a/b"}'],
  ])("400 invalid_json for %s", async (_, body) => {
    await expectError(await http.post(body), 400, "invalid_json");
  });

  it.each([
    ["no name", { data: {} }, /^event 0: name: /],
    ["a name that is not a string", { name: 42 }, /^event 0: name: /],
    ["a name with a space", { name: "has space" }, /^event 0: name: /],
    ["data that is an array", { name: "e2e/x", data: [1, 2] }, /^event 0: data/],
    ["an id over 256 characters", { name: "e2e/x", id: "i".repeat(257) }, /^event 0: id: /],
    ["a negative ts", { name: "e2e/x", ts: -1 }, /^event 0: ts: /],
    ["the second event bad", [{ name: "e2e/ok" }, { name: "" }], /^event 1: name: /],
    [
      "a schema violation in data",
      { name: "app/user.signup", data: { user: { id: "u1", email: "not-an-email" } } },
      /^event 0: data\.user\.email: /,
    ],
    [
      "a missing field the schema wants",
      [{ name: "e2e/ok" }, { name: "e2e/ok" }, { name: "stripe/charge.created", data: { email: "a@example.com" } }],
      /^event 2: data\.charge: /,
    ],
    ["an empty array", [], /no events/],
    ["a bare string", '"app/user.signup"', /^event 0: /],
  ])("400 invalid_event for %s", async (_, body, message) => {
    await expectError(await http.post(body), 400, "invalid_event", message);
  });

  it("400 invalid_event for 1001 events, naming the limit; exactly 1000 are accepted", async () => {
    const events = (n: number) => Array.from({ length: n }, (_, i) => ({ name: "e2e/bulk", data: { i } }));
    await expectError(await http.post(events(1001)), 400, "invalid_event", /too many events: 1001 .*limit is 1000/);
    const ids = await http.send(events(1000));
    expect(ids).toHaveLength(1000);
    expect(new Set(ids).size).toBe(1000);
  });

  it.each([
    ["text/plain", "text/plain"],
    ["form data", "application/x-www-form-urlencoded"],
    ["a JSON look-alike", "application/jsonp"],
    ["no content type", null],
  ])("415 unsupported_media_type for %s", async (_, contentType) => {
    await expectError(await http.post({ name: "e2e/x" }, { contentType }), 415, "unsupported_media_type");
  });

  it("accepts application/json with a charset parameter, in any case", async () => {
    const res = await http.post({ name: "e2e/x" }, { contentType: "Application/JSON; charset=utf-8" });
    expect(res.status).toBe(200);
  });
});

describe("the 1 MiB body limit", () => {
  it("413 payload_too_large for one byte over, sent with a Content-Length", async () => {
    const res = await http.post(new Uint8Array(eventOfSize(LIMIT + 1)));
    await expectError(res, 413, "payload_too_large", /1048576/);
  });

  it("413 payload_too_large for a body over the limit that is not even JSON", async () => {
    await expectError(await http.post(new Uint8Array(LIMIT + 1000).fill(0x7b)), 413, "payload_too_large");
  });

  it("413 payload_too_large for one byte over, streamed chunked without a Content-Length", async () => {
    const res = await postChunked(http.ingestUrl(), eventOfSize(LIMIT + 1));
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body)).toMatchObject({ error: { code: "payload_too_large" } });
  });

  it("413 payload_too_large for a 3 MiB chunked stream, which the client gets every time, not a reset connection", async () => {
    // Answered while the upload was still coming, one try in ten or so came back as ECONNRESET instead.
    const body = eventOfSize(3 * LIMIT);
    for (let i = 0; i < 30; i++) {
      const res = await postChunked(http.ingestUrl(), body);
      expect(res.status).toBe(413);
      expect(JSON.parse(res.body)).toMatchObject({ error: { code: "payload_too_large" } });
    }
  });

  it("accepts valid JSON of exactly 1048576 bytes, with a Content-Length and chunked", async () => {
    const body = eventOfSize(LIMIT);
    const res = await http.post(new Uint8Array(body));
    expect(res.status).toBe(200);
    const [id] = ((await res.json()) as { ids: string[] }).ids;
    const chunked = await postChunked(http.ingestUrl(), body);
    expect(chunked.status).toBe(200);
    const [chunkedId] = (JSON.parse(chunked.body) as { ids: string[] }).ids;
    expect(chunkedId).not.toBe(id);
    // Stored whole: the padding comes back byte for byte.
    const ev = await http.event(id!);
    expect((ev.event.data.pad as string).length).toBe(
      LIMIT - Buffer.byteLength(JSON.stringify({ name: "e2e/at-limit", data: { pad: "" } })),
    );
  });
});

describe("unknown names, runs and events", () => {
  it("accepts an event nobody subscribes to and starts zero runs", async () => {
    const [id] = await http.send({ name: "e2e/nobody-listens", data: { a: 1 } });
    const ev = await waitFor(async () => {
      const e = await http.event(id!);
      return e.dispatched ? e : undefined;
    }, "the event to be dispatched");
    expect(ev.runs).toEqual([]);
  });

  it("404 run_not_found for a well-formed run id nobody has, and for a malformed one", async () => {
    const missing = await http.api<ErrorBody>("/api/v1/runs/01ARZ3NDEKTSV4RRFFQ69G5FAV");
    expect(missing).toMatchObject({ status: 404, body: { error: { code: "run_not_found" } } });
    const malformed = await http.api<ErrorBody>("/api/v1/runs/not-a-run-id");
    expect(malformed).toMatchObject({ status: 404, body: { error: { code: "run_not_found" } } });
  });

  it("404 event_not_found for an event id nobody sent", async () => {
    const res = await http.api<ErrorBody>("/api/v1/events/never-sent");
    expect(res).toMatchObject({ status: 404, body: { error: { code: "event_not_found" } } });
  });

  it("404 not_found for a route that does not exist", async () => {
    const res = await fetch(`${dev.url}/nope`);
    await expectError(res, 404, "not_found");
  });
});
