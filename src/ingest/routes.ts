import { Hono } from "hono";
import type { EngineConfig, IngestPath } from "../config";
import type { Env } from "../env";
import { dedupeOf } from "../events/store";
import { GroupCommit } from "../shared/group-commit";
import { HttpError } from "../shared/http-error";
import { type AcceptResult, type PreparedEvents, prepareEvents, writeEvents } from "./accept";
import { checkEventKey } from "./event-keys";
import { parseIdSeed } from "./id-seed";
import { parseEvents } from "./parse-events";
import { queueEvents } from "./queue-first";
import { readBodyWithLimit, requireJsonContentType } from "./read-body";

/**
 * Small requests share one events statement (group commit), up to this much
 * bound JSON in UTF-16 units. A request of `SOLO_EVENTS` events or more
 * already amortises its statement, so it is written at once, on its own.
 */
const GROUP_MAX_CHARS = 512 * 1024;
const SOLO_EVENTS = 50;

let sweeperArmed = false;

/**
 * A write storage failed or did not confirm in time: a 503 the sender can act on,
 * not a bare 500. The events may or may not be stored, so the answer says
 * how a retry stays safe.
 */
function notConfirmed(e: unknown): HttpError {
  if (e instanceof HttpError) return e;
  console.error("stepflare: storing events failed:", e instanceof Error ? e.message : String(e));
  return new HttpError(
    503,
    "ingest_unavailable",
    "storage did not confirm the write, so these events may not be stored: send them again (a retry of events that carry an id is deduplicated)",
  );
}

/**
 * The path this request's events take (`ingest` in docs/scale.md). Cloudflare's
 * edge puts a `cf-ray` header on every request it hands a Worker; local dev
 * does not, and its queues live in memory, so there the events are stored first.
 */
function ingestPath(config: EngineConfig, req: Request): IngestPath {
  if (config.ingest !== "auto") return config.ingest;
  return req.headers.has("cf-ray") ? "queue" : "store";
}

/** `POST /e/:eventKey`: Inngest's event API contract. */
export function ingestRoutes(config: EngineConfig) {
  // One group-commit writer per set of bindings (in practice, per isolate).
  const writers = new WeakMap<Env, GroupCommit<PreparedEvents, AcceptResult>>();
  const writerFor = (env: Env) => {
    let writer = writers.get(env);
    if (!writer) {
      writer = new GroupCommit((requests, release) => writeEvents(env, requests, dedupeOf(config), release), GROUP_MAX_CHARS);
      writers.set(env, writer);
    }
    return writer;
  };

  return new Hono<{ Bindings: Env }>().post("/:eventKey", async (c) => {
    await checkEventKey(c.env, c.req.param("eventKey"));
    requireJsonContentType(c.req.raw);
    const text = await readBodyWithLimit(c.req.raw, config.limits.maxRequestBytes);
    const payloads = parseEvents(text, config.limits.maxEventsPerRequest, config.schemas);
    const seed = parseIdSeed(c.req.header("x-inngest-event-id-seed"));
    const prepared = await prepareEvents(payloads, seed);
    const keepAlive = (p: Promise<unknown>) => c.executionCtx.waitUntil(p);
    let ids: string[];
    try {
      if (ingestPath(config, c.req.raw) === "queue") {
        ({ ids } = await queueEvents(c.env, prepared, dedupeOf(config), keepAlive));
      } else if (prepared.events.length >= SOLO_EVENTS) {
        const { results, after } = await writeEvents(c.env, [prepared], dedupeOf(config));
        if (after) keepAlive(after);
        ids = results[0]!.ids;
      } else ({ ids } = await writerFor(c.env).submit(prepared, prepared.chars, keepAlive));
    } catch (e) {
      throw notConfirmed(e);
    }
    if (!sweeperArmed) {
      // Once per isolate: make sure the sweeper that recovers undispatched events is armed.
      sweeperArmed = true;
      const sweeper = c.env.SWEEPER.get(c.env.SWEEPER.idFromName("sweeper"));
      c.executionCtx.waitUntil(sweeper.ensure().catch(() => (sweeperArmed = false)));
    }
    return c.json({ ids, status: 200 });
  });
}
