import { Hono } from "hono";
import { wellFormedHead } from "../../sdk/internal";
import type { Env } from "../env";
import { getEvent, resetSweeps } from "../events/store";
import { runsOfEvent } from "../listing/store";
import type { EventMessage } from "../messages/events";
import { HttpError } from "../shared/http-error";
import { sendEvents } from "../shared/queue-shards";

const notFound = (eventId: string) =>
  new HttpError(404, "event_not_found", `no event with id ${JSON.stringify(wellFormedHead(eventId, 64))}`);

export const eventsApi = new Hono<{ Bindings: Env }>()
  .get("/:eventId", async (c) => {
    const eventId = c.req.param("eventId");
    const row = await getEvent(c.env, eventId);
    if (!row) throw notFound(eventId);
    const runs = await runsOfEvent(c.env, eventId, Number(row.accepted_at));
    return c.json({
      event: JSON.parse(row.payload),
      acceptedAt: new Date(row.accepted_at).toISOString(),
      dispatched: row.dispatched_at !== null,
      runs: runs.map((r) => ({
        id: r.id,
        functionId: r.function_id,
        status: r.status,
        ...(r.error_code ? { errorCode: r.error_code } : {}),
      })),
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
    const row = await resetSweeps(c.env, eventId);
    if (!row) throw notFound(eventId);
    const message: EventMessage = { v: 1, id: eventId, acceptedAt: Number(row.accepted_at) };
    try {
      await sendEvents(c.env, [message]);
    } catch (e) {
      console.error(`stepflare: enqueueing event ${eventId} for dispatch failed:`, (e as Error).message);
      throw new HttpError(503, "dispatch_failed", "the events queue did not take the event; call again");
    }
    return c.json({ id: eventId, wasDispatched: row.dispatched_at !== null, enqueued: true }, 202);
  });
