import { Hono } from "hono";
import { z } from "zod";
import { eventNamePattern } from "../../sdk/function";
import { type ListedEvent, listEvents } from "../d1/events";
import type { Env } from "../env";
import { decodeCursor, encodeCursor } from "./cursor";
import { instant } from "./instant";
import { pageLimit, parseQuery } from "./query";

const listQuery = z
  .object({
    name: z.string().regex(eventNamePattern, "must be an event name: 1-256 of A-Z a-z 0-9 _ . - / :").optional(),
    since: instant("query").optional(),
    until: instant("query").optional(),
    limit: pageLimit,
    cursor: z.string().max(512).optional(),
  })
  .strict();

export const eventSummary = (r: ListedEvent) => ({
  id: r.id,
  name: r.name,
  acceptedAt: new Date(r.accepted_at).toISOString(),
  dispatched: r.dispatched_at !== null,
});

/** `GET /api/v1/events`: accepted events, newest first, optionally of one name and within a time range (of acceptance). */
export const eventListApi = new Hono<{ Bindings: Env }>().get("/", async (c) => {
  const q = parseQuery(listQuery, c.req.queries());
  const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
  const page = await listEvents(c.env.DB, { name: q.name, since: q.since, until: q.until, after, limit: q.limit });
  return c.json({ events: page.rows.map(eventSummary), nextCursor: page.next && encodeCursor(page.next) });
});
