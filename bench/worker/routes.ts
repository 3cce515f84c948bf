import { Hono } from "hono";
import type { Env as EngineEnv } from "stepflare/engine";
import type { BenchProbe } from "./probe";
import { isShape, runShape, SHAPES, type Shape, stepBody } from "./work";
import type { BenchOutput, BenchParams } from "./workflow";

export interface Env extends EngineEnv {
  WF: Workflow<BenchParams>;
  PROBE: DurableObjectNamespace<BenchProbe>;
}

/** Workflows' createBatch takes at most 100 instances. */
const CREATE_BATCH_MAX = 100;
/** Status calls in flight at once, so polling never floods the engine it watches. */
const STATUS_CONCURRENCY = 8;
const TERMINAL = new Set(["complete", "errored", "terminated"]);

// One range scan of runs_by_function per function: cheap enough to poll while runs execute.
const RUN_SUMMARY = `
SELECT status, count(*) AS n, min(started_at) AS first_started, max(ended_at) AS last_ended
FROM runs WHERE function_id IN (SELECT value FROM json_each(?1)) AND started_at >= ?2
GROUP BY status`;

// Listing rows for the dashboard's bench: n runs of one function, 1 ms apart, one in ten failed.
const SEED_RUNS = `
WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < ?1)
INSERT INTO runs (id, function_id, event_id, status, started_at, ended_at, error_code, version)
SELECT printf('SEED%022d', i), ?2, printf('SEEDEVENT%017d', i), CASE WHEN i % 10 = 0 THEN 'failed' ELSE 'completed' END,
  ?3 + i, ?3 + i + 5, CASE WHEN i % 10 = 0 THEN 'step_timeout' END, 1
FROM seq`;

// One run by its trigger event (runs_by_event), for timing one run at a time.
const RUN_OF_EVENT = "SELECT id, status, ended_at FROM runs WHERE event_id = ?1 AND function_id = ?2";

// The registered waits of an event name (waits_by_match), optionally for one `match` value (JSON).
const WAIT_COUNT = "SELECT count(*) AS n FROM waits WHERE name = ?1 AND (?2 IS NULL OR match_value = ?2)";

// Runs of one function started since a time (runs_by_function), for reading their details.
const RUN_IDS = "SELECT id FROM runs WHERE function_id = ?1 AND started_at >= ?2 ORDER BY started_at LIMIT 5000";

function shapeOf(value: unknown): { shape: Shape; n: number } {
  const { shape, n } = (value ?? {}) as { shape?: unknown; n?: unknown };
  if (!isShape(shape)) throw new Error(`shape must be one of ${SHAPES.join(", ")}; got ${JSON.stringify(shape)}`);
  const count = Number(n ?? 1);
  if (!Number.isInteger(count) || count < 1) throw new Error(`n must be a positive integer; got ${JSON.stringify(n)}`);
  return { shape, n: count };
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * Bench-only routes, served before the engine's: run counts straight from
 * the D1 run listing, Workflow instances created and watched through the binding,
 * and the floor (the same trivial work with no durability).
 */
export const benchRoutes = new Hono<{ Bindings: Env }>()
  .get("/health", (c) => c.json({ ok: true }))
  // The floor for ingest's bytes/s: reads a POSTed body whole and answers at once.
  .post("/sink", async (c) => c.json({ bytes: (await c.req.arrayBuffer()).byteLength }))
  .post("/seed-runs", async (c) => {
    const { n, functionId } = await c.req.json<{ n: number; functionId: string }>();
    const result = await c.env.DB.prepare(SEED_RUNS)
      .bind(n, functionId, Date.now() - n)
      .run();
    return c.json({ inserted: result.meta.changes });
  })
  .get("/runs", async (c) => {
    const functions = (c.req.query("fn") ?? "").split(",").filter(Boolean);
    const since = Number(c.req.query("since") ?? 0);
    const rows = await c.env.DB.prepare(RUN_SUMMARY)
      .bind(JSON.stringify(functions), since)
      .all<{ status: string; n: number; first_started: number | null; last_ended: number | null }>();
    const byStatus: Record<string, number> = {};
    let total = 0;
    let firstStartedAt: number | null = null;
    let lastEndedAt: number | null = null;
    for (const r of rows.results) {
      byStatus[r.status] = r.n;
      total += r.n;
      if (r.first_started !== null) firstStartedAt = Math.min(firstStartedAt ?? Infinity, r.first_started);
      if (r.last_ended !== null) lastEndedAt = Math.max(lastEndedAt ?? 0, r.last_ended);
    }
    return c.json({ total, byStatus, firstStartedAt, lastEndedAt });
  })
  .get("/run", async (c) => {
    const row = await c.env.DB.prepare(RUN_OF_EVENT)
      .bind(c.req.query("event") ?? "", c.req.query("fn") ?? "")
      .first<{ id: string; status: string; ended_at: number | null }>();
    return c.json(row ? { id: row.id, status: row.status, endedAt: row.ended_at } : { id: null, status: null, endedAt: null });
  })
  .get("/waits", async (c) => {
    const value = c.req.query("value");
    const row = await c.env.DB.prepare(WAIT_COUNT)
      .bind(c.req.query("name") ?? "", value === undefined ? null : JSON.stringify(value))
      .first<{ n: number }>();
    return c.json({ count: row?.n ?? 0 });
  })
  .get("/run-ids", async (c) => {
    const rows = await c.env.DB.prepare(RUN_IDS)
      .bind(c.req.query("fn") ?? "", Number(c.req.query("since") ?? 0))
      .all<{ id: string }>();
    return c.json({ ids: rows.results.map((r) => r.id) });
  })
  .post("/workflows", async (c) => {
    const body = await c.req.json<{ count?: number }>();
    const params = shapeOf(body);
    const count = Number(body.count ?? 1);
    if (count === 1) return c.json({ ids: [(await c.env.WF.create({ params })).id] });
    const ids: string[] = [];
    for (let left = count; left > 0; left -= CREATE_BATCH_MAX) {
      const result = await c.env.WF.createBatch({ count: Math.min(left, CREATE_BATCH_MAX), params });
      if (result.errors.length > 0) return c.json({ error: result.errors }, 500);
      ids.push(...result.created.map((i) => i.id));
    }
    return c.json({ ids });
  })
  .post("/workflows/status", async (c) => {
    const { ids } = await c.req.json<{ ids: string[] }>();
    const ended: { id: string; status: string; endedAt: number | null }[] = [];
    await mapLimit(ids, STATUS_CONCURRENCY, async (id) => {
      const s = await (await c.env.WF.get(id)).status();
      if (!TERMINAL.has(s.status)) return;
      ended.push({ id, status: s.status, endedAt: s.status === "complete" ? (s.output as BenchOutput).endedAt : null });
    });
    return c.json({ ended });
  })
  .post("/probe", async (c) => {
    // `count` new objects, 100 at a time (as one events batch would start them); answers the time in ms.
    const { count } = await c.req.json<{ count: number }>();
    const start = Date.now();
    for (let done = 0; done < count; done += 100) {
      const ids = Array.from({ length: Math.min(100, count - done) }, () => c.env.PROBE.newUniqueId());
      await Promise.all(ids.map((id, i) => c.env.PROBE.get(id).touch(i)));
    }
    return c.json({ ms: Date.now() - start });
  })
  .get("/floor", async (c) => {
    const { shape, n } = shapeOf(c.req.query());
    const body = stepBody(shape, c.env.DB);
    const sum = await runShape(shape, n, async (i) => body(i));
    return c.json({ sum });
  })
  .onError((err, c) => c.json({ error: err.message }, 400));
