import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ulid } from "../../src/shared/ulid";
import { api, BASE, putEvent, putListing, sendEvents, settledRuns } from "./helpers";

type ErrorBody = { error: { code: string; message: string } };

describe("GET /api/v1/functions", () => {
  it("lists every function with its triggers and config, and its listed runs by status", async () => {
    // Created hours apart: their rows are in different shards, and the counts sum them.
    await putListing(
      (["completed", "completed", "failed", "running"] as const).map((status, i) => ({
        id: ulid(Date.now() - i * 3_600_000),
        functionId: "wild-pair",
        eventId: "ev-fn",
        status,
        startedAt: i + 1,
        version: 1,
      })),
    );
    const { status, body } = await api<{ functions: { id: string; triggers: unknown; retries: number; runs: Record<string, number> }[] }>(
      "/api/v1/functions",
    );
    expect(status).toBe(200);
    const byId = new Map(body.functions.map((f) => [f.id, f]));
    expect(byId.get("wild-pair")).toEqual({
      id: "wild-pair",
      triggers: [{ event: "wild/pair" }],
      retries: 4,
      onFailure: false,
      runs: { queued: 0, running: 1, sleeping: 0, waiting: 0, completed: 2, failed: 1, cancelled: 0, skipped: 0 },
      paused: false,
    });
    expect(byId.get("sized")).toMatchObject({ triggers: [{ event: "test/sized" }], retries: 0 });
    expect(byId.get("handler-flaky")).toMatchObject({ retries: 3 });
    expect(byId.get("wildcard")).toMatchObject({ triggers: [{ event: "wild/*" }] });
  });
});

describe("GET /api/v1/events", () => {
  const T = Date.parse("2025-06-01T00:00:00Z");
  const seed = async () => {
    await Promise.all([
      putEvent({ id: "LIST-A", name: "list/one", acceptedAt: T }),
      putEvent({ id: "LIST-B", name: "list/two", acceptedAt: T + 10 }),
      putEvent({ id: "LIST-C", name: "list/one", acceptedAt: T + 20 }),
      putEvent({ id: "LIST-D", name: "list/one", acceptedAt: T + 20 }),
      putEvent({ id: "LIST-E", name: "list/two", acceptedAt: T + 30 }),
    ]);
  };
  const ids = async (q: string) => {
    const { status, body } = await api<{ events: { id: string }[]; nextCursor: string | null } & Partial<ErrorBody>>(`/api/v1/events?${q}`);
    return { status, ids: body.events?.map((e) => e.id), next: body.nextCursor, error: body.error };
  };
  const window = `since=${T}&until=${T + 31}`;

  it("answers events newest first, by name and acceptance time, paged by cursor without gaps or repeats", async () => {
    await seed();
    expect((await ids(window)).ids).toEqual(["LIST-E", "LIST-D", "LIST-C", "LIST-B", "LIST-A"]);
    expect((await ids(`name=list/one&${window}`)).ids).toEqual(["LIST-D", "LIST-C", "LIST-A"]);
    expect((await ids(`since=${T + 10}&until=${T + 30}`)).ids).toEqual(["LIST-D", "LIST-C", "LIST-B"]);
    const walked: string[] = [];
    let cursor: string | null = null;
    do {
      const page: Awaited<ReturnType<typeof ids>> = await ids(`${window}&limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      expect(page.ids!.length).toBeLessThanOrEqual(2);
      walked.push(...page.ids!);
      cursor = page.next;
    } while (cursor);
    expect(walked).toEqual(["LIST-E", "LIST-D", "LIST-C", "LIST-B", "LIST-A"]);

    const { body } = await api<{ events: unknown[] }>(`/api/v1/events?name=list/two&${window}&limit=1`);
    expect(body.events).toEqual([{ id: "LIST-E", name: "list/two", acceptedAt: new Date(T + 30).toISOString(), dispatched: false }]);
  });

  it("refuses a bad name, limit, cursor or unknown parameter with 400 invalid_query", async () => {
    for (const q of ["name=has%20space", "limit=0", "limit=101", "cursor=nope", "since=yesterday", "q=x"]) {
      const r = await ids(q);
      expect(r.status, q).toBe(400);
      expect(r.error?.code, q).toBe("invalid_query");
    }
  });
});

describe("GET /api/v1/runs time filters", () => {
  it("keep runs created in [since, until)", async () => {
    const T = Date.parse("2025-07-01T00:00:00Z");
    const [t1, t2, t3] = [ulid(T), ulid(T + 5), ulid(T + 10)];
    await putListing(
      [
        [t1, T],
        [t2, T + 5],
        [t3, T + 10],
      ].map(([id, at]) => ({
        id: String(id),
        functionId: "time-filter",
        eventId: "ev-t",
        status: "completed",
        startedAt: Number(at),
        version: 1,
      })),
    );
    const listed = async (q: string) =>
      (await api<{ runs: { id: string }[] }>(`/api/v1/runs?functionId=time-filter&${q}`)).body.runs.map((r) => r.id);
    expect(await listed(`since=${T + 5}`)).toEqual([t3, t2]);
    expect(await listed(`until=${T + 5}`)).toEqual([t1]);
    expect(await listed(`since=${encodeURIComponent(new Date(T).toISOString())}&until=${T + 10}`)).toEqual([t2, t1]);
    expect((await api<ErrorBody>("/api/v1/runs?since=soon")).body.error.code).toBe("invalid_query");
  });
});

describe("the dashboard in workerd (dev mode)", () => {
  it("serves a 250-step run a hundred steps a page, with a bar per step", async () => {
    const [eventId] = await sendEvents({ name: "test/sequential", data: { tag: "dash-250", n: 250 } });
    const [run] = await settledRuns(eventId!, 1, 30_000);
    expect(run).toMatchObject({ status: "completed" });
    const html = async (path: string) => {
      const res = await exports.default.fetch(`${BASE}${path}`);
      expect(res.headers.get("content-security-policy")).toContain("script-src 'self'");
      return { status: res.status, text: await res.text() };
    };
    const first = await html(`/dashboard/runs/${run!.id}`);
    expect(first.status).toBe(200);
    expect(first.text).toContain("1–100 of 250");
    expect(first.text.match(/<rect class="bar/g)).toHaveLength(100);
    expect(first.text.match(/<tr data-step=/g)).toHaveLength(100);
    expect(first.text).not.toContain("data-live"); // a finished run does not refresh itself
    const last = await html(`/dashboard/runs/${run!.id}?steps=3`);
    expect(last.text).toContain("201–250 of 250");
    expect(last.text.match(/<tr data-step=/g)).toHaveLength(50);
    expect(last.text).toContain('data-step="add:249"');
    expect((await html("/dashboard/runs/01ARZ3NDEKTSV4RRFFQ69G5FAV")).status).toBe(404);
    const missing = await html("/dashboard/no-such-page");
    expect(missing.status).toBe(404);
    expect(missing.text).toContain("no such dashboard page");
  });
});
