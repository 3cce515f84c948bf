import { Hono } from "hono";
import { wellFormedHead } from "../../sdk/text";
import type { Env } from "../env";
import type { EventMessage } from "../fanout/message";
import { HttpError } from "../shared/http-error";
import type { runSummary } from "./runs";

// Gives an event its sweeps back and answers its acceptance, whether it was dispatched or not.
const RESET_SWEEPS = "UPDATE events SET sweeps = 0 WHERE id = ?1 RETURNING accepted_at, dispatched_at";

const notFound = (eventId: string) =>
  new HttpError(404, "event_not_found", `no event with id ${JSON.stringify(wellFormedHead(eventId, 64))}`);

export const eventsApi = new Hono<{ Bindings: Env }>()
  .get("/:eventId", async (c) => {
    const eventId = c.req.param("eventId");
    const row = await c.env.DB.prepare("SELECT payload, accepted_at, dispatched_at FROM events WHERE id = ?1")
      .bind(eventId)
      .first<{ payload: string; accepted_at: number; dispatched_at: number | null }>();
    if (!row) throw notFound(eventId);
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
  })
  /**
   * Fans a stored event out again: for an event whose fan-out failed through
   * every sweep (its messages are in the dead letters), or to start functions
   * subscribed since it was dispatched. Run ids derive from the function and
   * the acceptance, so a function that already has its run is not run again.
   */
  .post("/:eventId/dispatch", async (c) => {
    const eventId = c.req.param("eventId");
    const row = await c.env.DB.prepare(RESET_SWEEPS).bind(eventId).first<{ accepted_at: number; dispatched_at: number | null }>();
    if (!row) throw notFound(eventId);
    const message: EventMessage = { v: 1, id: eventId, acceptedAt: Number(row.accepted_at) };
    try {
      await c.env.EVENTS.send(message);
    } catch (e) {
      console.error(`stepflare: enqueueing event ${eventId} for dispatch failed:`, (e as Error).message);
      throw new HttpError(503, "dispatch_failed", "the events queue did not take the event; call again");
    }
    return c.json({ id: eventId, wasDispatched: row.dispatched_at !== null, enqueued: true }, 202);
  });
