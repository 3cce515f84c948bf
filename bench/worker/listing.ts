import type { Env } from "stepflare/engine";
import { shardsBetween } from "../../src/d1/shards";
import { idShardName } from "../../src/events/keys";
import { bucketOfTime, byShard, idFloor, type ShardPlace, shardName } from "../../src/listing/keys";
import { ulid } from "../../src/shared/ulid";

/**
 * The bench's reads of the run listing, straight from its shards (the
 * engine's src/listing/): the shards noted in D1's directory since a time,
 * asked at once. Cheap enough to poll while runs execute.
 */

const stub = (env: Env, p: ShardPlace) => env.RUN_LISTING.get(env.RUN_LISTING.idFromName(shardName(p)));

const shardsSince = (env: Env, since: number): Promise<ShardPlace[]> =>
  shardsBetween(env.DB, "listing_shards", bucketOfTime(since), Number.MAX_SAFE_INTEGER, "oldest");

/** Runs of these functions created since `since`, per status, with the first start and last end. */
export async function runSummary(env: Env, functionIds: string[], since: number) {
  const shards = await shardsSince(env, since);
  const rows = (await Promise.all(shards.map((p) => stub(env, p).summary(functionIds, idFloor(since))))).flat();
  return rows.map((r) => ({ status: r.status, n: Number(r.n), first_started: r.first_started, last_ended: r.last_ended }));
}

/** The run of one function an event started: in the shards of the hour the event was accepted. */
export async function runOfEvent(env: Env, eventId: string, functionId: string) {
  const acceptedAt = await env.EVENT_STORE.get(env.EVENT_STORE.idFromName(idShardName(eventId))).acceptance(eventId);
  if (acceptedAt === null) return null;
  const bucket = bucketOfTime(acceptedAt);
  const shards = await shardsBetween(env.DB, "listing_shards", bucket, bucket, "oldest");
  const runs = (await Promise.all(shards.map((p) => stub(env, p).ofEvent(eventId)))).flat();
  return runs.find((r) => r.function_id === functionId) ?? null;
}

/** Up to 5,000 ids of one function's runs created since `since`, oldest first. */
export async function runIds(env: Env, functionId: string, since: number): Promise<string[]> {
  const shards = await shardsSince(env, since);
  const pages = await Promise.all(shards.map((p) => stub(env, p).page({ functionId, fromId: idFloor(since), limit: 5000 })));
  return pages
    .flat()
    .map((r) => r.id)
    .sort()
    .slice(0, 5000);
}

/** Listing rows for the dashboard's bench: n runs of one function, 1 ms apart, one in ten failed. */
export async function seedRuns(env: Env, n: number, functionId: string): Promise<number> {
  const start = Date.now() - n;
  const rows = Array.from({ length: n }, (_, i) => ({
    id: ulid(start + i),
    functionId,
    eventId: `seed-event-${i}`,
    status: i % 10 === 0 ? "failed" : "completed",
    startedAt: start + i,
    endedAt: start + i + 5,
    errorCode: i % 10 === 0 ? "step_timeout" : null,
    version: 1,
  }));
  await Promise.all(byShard(rows, (r) => r.id).map((g) => stub(env, g.place).upsert(g.place, g.items)));
  return n;
}
