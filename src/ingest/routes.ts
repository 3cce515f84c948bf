import { Hono } from "hono";
import type { EngineConfig } from "../config";
import type { Env } from "../env";
import { acceptEvents } from "./accept";
import { checkEventKey } from "./event-keys";
import { parseIdSeed } from "./id-seed";
import { parseEvents } from "./parse-events";
import { readBodyWithLimit, requireJsonContentType } from "./read-body";

let sweeperArmed = false;

/** `POST /e/:eventKey`: Inngest's event API contract. */
export function ingestRoutes(config: EngineConfig) {
  return new Hono<{ Bindings: Env }>().post("/:eventKey", async (c) => {
    await checkEventKey(c.env, c.req.param("eventKey"));
    requireJsonContentType(c.req.raw);
    const text = await readBodyWithLimit(c.req.raw, config.limits.maxRequestBytes);
    const payloads = parseEvents(text, config.limits.maxEventsPerRequest, config.schemas);
    const seed = parseIdSeed(c.req.header("x-inngest-event-id-seed"));
    const { ids } = await acceptEvents(c.env, payloads, config.limits.dedupeWindowMs, seed);
    if (!sweeperArmed) {
      // Once per isolate: make sure the sweeper that recovers undispatched events is armed.
      sweeperArmed = true;
      const sweeper = c.env.SWEEPER.get(c.env.SWEEPER.idFromName("sweeper"));
      c.executionCtx.waitUntil(sweeper.ensure().catch(() => (sweeperArmed = false)));
    }
    return c.json({ ids, status: 200 });
  });
}
