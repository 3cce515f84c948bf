import { Hono } from "hono";
import { z } from "zod";
import { eventNamePattern } from "../../sdk/function";
import { EVENT_LIST_SELECT, type EventListRow } from "../dashboard/queries";
import type { Env } from "../env";
import { instant } from "./instant";
import { keysetPage } from "./page";
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

export const eventSummary = (r: EventListRow) => ({
  id: r.id,
  name: r.name,
  ts: r.ts,
  acceptedAt: new Date(r.accepted_at).toISOString(),
  dispatched: r.dispatched_at !== null,
});

/** `GET /api/v1/events`: accepted events, newest first, optionally of one name and within a time range (of acceptance). */
export const eventListApi = new Hono<{ Bindings: Env }>().get("/", async (c) => {
  const q = parseQuery(listQuery, c.req.queries());
  const where: string[] = [];
  const args: unknown[] = [];
  if (q.name) where.push(`name = ?${args.push(q.name)}`);
  if (q.since !== undefined) where.push(`accepted_at >= ?${args.push(q.since)}`);
  if (q.until !== undefined) where.push(`accepted_at < ?${args.push(q.until)}`);
  const page = await keysetPage<EventListRow>(c.env.DB, {
    select: EVENT_LIST_SELECT,
    where,
    args,
    timeColumn: "accepted_at",
    cursor: q.cursor,
    limit: q.limit,
  });
  return c.json({ events: page.rows.map(eventSummary), nextCursor: page.nextCursor });
});
