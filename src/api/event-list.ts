import { Hono } from "hono";
import type { Env } from "../env";
import type { ListedEvent } from "../events/object";
import { listEvents } from "../events/store";
import { decodeCursor, encodeCursor } from "./cursor";
import { parseQuery } from "./query";
import { eventsListQuery } from "./schemas";

export const eventSummary = (r: ListedEvent) => ({
  id: r.id,
  name: r.name,
  acceptedAt: new Date(r.accepted_at).toISOString(),
  dispatched: r.dispatched_at !== null,
});

/** `GET /api/v1/events`: accepted events, newest first, optionally of one name and within a time range (of acceptance). */
export const eventListApi = new Hono<{ Bindings: Env }>().get("/", async (c) => {
  const q = parseQuery(eventsListQuery, c.req.queries());
  const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
  const page = await listEvents(c.env, { name: q.name, since: q.since, until: q.until, after, limit: q.limit });
  return c.json({ events: page.rows.map(eventSummary), nextCursor: page.next && encodeCursor(page.next) });
});
