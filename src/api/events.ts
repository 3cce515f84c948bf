import { Hono } from "hono";
import type { Env } from "../env";
import { HttpError } from "../shared/http-error";
import type { runSummary } from "./runs";

export const eventsApi = new Hono<{ Bindings: Env }>().get("/:eventId", async (c) => {
  const eventId = c.req.param("eventId");
  const row = await c.env.DB.prepare("SELECT payload, accepted_at, dispatched_at FROM events WHERE id = ?1")
    .bind(eventId)
    .first<{ payload: string; accepted_at: number; dispatched_at: number | null }>();
  if (!row) throw new HttpError(404, "event_not_found", `no event with id ${JSON.stringify(eventId.slice(0, 64))}`);
  const runs = await c.env.DB.prepare(
    "SELECT id, function_id, event_id, status, started_at, ended_at, error_code FROM runs WHERE event_id = ?1 ORDER BY started_at, id",
  )
    .bind(eventId)
    .all<Parameters<typeof runSummary>[0]>();
  return c.json({
    event: JSON.parse(row.payload),
    acceptedAt: new Date(row.accepted_at).toISOString(),
    dispatched: row.dispatched_at !== null,
    runs: runs.results.map((r) => ({ id: r.id, functionId: r.function_id, status: r.status })),
  });
});
