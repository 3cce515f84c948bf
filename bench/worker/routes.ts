import { Hono } from "hono";
import type { Env as EngineEnv } from "stepflare/engine";
import { runIds, runOfEvent, runSummary, seedRuns } from "./listing";
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

// The registered waits of an event name (waits_by_match), optionally for one `match` value (JSON).
const WAIT_COUNT = "SELECT count(*) AS n FROM waits WHERE name = ?1 AND (?2 IS NULL OR match_value = ?2)";

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
 * the run listing's shards (./listing.ts), Workflow instances created and watched through the binding,
 * and the floor (the same trivial work with no durability).
 */
export const benchRoutes = new Hono<{ Bindings: Env }>()
  .get("/health", (c) => c.json({ ok: true }))
  // The floor for ingest's bytes/s: reads a POSTed body whole and answers at once.
  .post("/sink", async (c) => c.json({ bytes: (await c.req.arrayBuffer()).byteLength }))
  .post("/seed-runs", async (c) => {
    const { n, functionId } = await c.req.json<{ n: number; functionId: string }>();
    return c.json({ inserted: await seedRuns(c.env, n, functionId) });
  })
  .get("/runs", async (c) => {
    const functions = (c.req.query("fn") ?? "").split(",").filter(Boolean);
    const since = Number(c.req.query("since") ?? 0);
    const rows = await runSummary(c.env, functions, since);
    const byStatus: Record<string, number> = {};
    let total = 0;
    let firstStartedAt: number | null = null;
    let lastEndedAt: number | null = null;
    for (const r of rows) {
      byStatus[r.status] = (byStatus[r.status] ?? 0) + r.n;
      total += r.n;
      if (r.first_started !== null) firstStartedAt = Math.min(firstStartedAt ?? Infinity, r.first_started);
      if (r.last_ended !== null) lastEndedAt = Math.max(lastEndedAt ?? 0, r.last_ended);
    }
    return c.json({ total, byStatus, firstStartedAt, lastEndedAt });
  })
  .get("/run", async (c) => {
    const row = await runOfEvent(c.env, c.req.query("event") ?? "", c.req.query("fn") ?? "");
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
    return c.json({ ids: await runIds(c.env, c.req.query("fn") ?? "", Number(c.req.query("since") ?? 0)) });
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
