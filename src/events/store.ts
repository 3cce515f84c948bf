import type { EngineConfig } from "../config";
import type { PagePosition } from "../d1/keyset-page";
import { shardsBetween } from "../d1/shards";
import type { Env } from "../env";
import { bucketOfTime, bucketStart, byBucket, type ShardPlace } from "../listing/keys";
import { type Acceptance, acceptanceKey, eventPlace, eventShardName, groupBy, idShardName } from "./keys";
import type { EventRow, ListedEvent, StoredEventRow } from "./object";

/**
 * The event store across its shards (./object.ts, docs/scale.md): the id
 * index by hash of the id, the acceptances by hour and hash. Writes go to
 * each item's shard, all shards at once; reads that span time ask the
 * shards D1's directory names, hour by hour.
 */

/** Shard calls one page of the events listing, or one pass of retention, makes at once. */
const WAVE = 32;
/** Shard calls one page of the events listing may make before it answers with what it has and a cursor. */
export const EVENT_PAGE_SHARD_CALLS = 128;

/** How ids are told apart: an id accepted within `windowMs` is a duplicate; the index keeps an id `keepMs`. */
export interface Dedupe {
  windowMs: number;
  keepMs: number;
}

const idStub = (env: Env, name: string) => env.EVENT_STORE.get(env.EVENT_STORE.idFromName(name));
const eventStub = (env: Env, p: ShardPlace) => env.EVENT_STORE.get(env.EVENT_STORE.idFromName(eventShardName(p)));

/** Acceptances grouped by their event shard. */
function byEventShard<T>(items: T[], acceptanceOf: (item: T) => Acceptance): { place: ShardPlace; items: T[] }[] {
  const groups = groupBy(items, (item) => eventShardName(eventPlace(...acceptanceOf(item))));
  return [...groups.values()].map((items) => ({ place: eventPlace(...acceptanceOf(items[0]!)), items }));
}

/**
 * Claims acceptances in the id index; answers the keys (`acceptanceKey`) of
 * those that are theirs to fan out. An id repeated in `acceptances` is
 * claimed in order, so its first acceptance wins.
 */
export async function claimAcceptances(env: Env, acceptances: Acceptance[], dedupe: Dedupe): Promise<Set<string>> {
  const groups = groupBy(acceptances, ([id]) => idShardName(id));
  const answers = await Promise.all([...groups].map(([name, group]) => idStub(env, name).claim(group, dedupe.windowMs, dedupe.keepMs)));
  return new Set(answers.flat());
}

/** Stores acceptances, each in its shard; one already stored keeps its row. */
export async function storeEvents(env: Env, rows: EventRow[]): Promise<void> {
  await Promise.all(byEventShard(rows, (r) => [r.id, r.acceptedAt]).map((g) => eventStub(env, g.place).store(g.place, g.items)));
}

/** The stored rows of these acceptances (those held), by `acceptanceKey`. */
export async function loadEvents(env: Env, acceptances: Acceptance[]): Promise<Map<string, StoredEventRow>> {
  const pages = await Promise.all(byEventShard(acceptances, (a) => a).map((g) => eventStub(env, g.place).load(g.items)));
  return new Map(pages.flat().map((r) => [acceptanceKey(r.id, Number(r.accepted_at)), r]));
}

/** Marks these acceptances dispatched at `now`. */
export async function markDispatched(env: Env, acceptances: Acceptance[], now: number): Promise<void> {
  await Promise.all(byEventShard(acceptances, (a) => a).map((g) => eventStub(env, g.place).markDispatched(g.items, now)));
}

/** Deletes these acceptances: duplicates that were stored before their id was claimed. */
export async function dropEvents(env: Env, acceptances: Acceptance[]): Promise<void> {
  await Promise.all(byEventShard(acceptances, (a) => a).map((g) => eventStub(env, g.place).drop(g.items)));
}

/** Counts one sweep for each of these acceptances. */
export async function countSweep(env: Env, acceptances: Acceptance[]): Promise<void> {
  await Promise.all(byEventShard(acceptances, (a) => a).map((g) => eventStub(env, g.place).countSweep(g.items)));
}

/** The latest acceptance of an event id that the store still holds, or null. */
export async function getEvent(env: Env, id: string): Promise<(StoredEventRow & { accepted_at: number }) | null> {
  const acceptedAt = await idStub(env, idShardName(id)).acceptance(id);
  if (acceptedAt === null) return null;
  const [row] = await eventStub(env, eventPlace(id, acceptedAt)).load([[id, acceptedAt]]);
  return row ? { ...row, accepted_at: Number(row.accepted_at) } : null;
}

/** Gives an event's latest acceptance its sweeps back; answers it, or null when the store does not hold it. */
export async function resetSweeps(env: Env, id: string): Promise<{ accepted_at: number; dispatched_at: number | null } | null> {
  const acceptedAt = await idStub(env, idShardName(id)).acceptance(id);
  if (acceptedAt === null) return null;
  const row = await eventStub(env, eventPlace(id, acceptedAt)).resetSweeps(id, acceptedAt);
  return row && { accepted_at: acceptedAt, dispatched_at: row.dispatched_at };
}

const newestFirst = (a: ListedEvent, b: ListedEvent): number => b.accepted_at - a.accepted_at || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

/**
 * One page of accepted events, newest first, of one name and accepted within
 * [since, until) when given. A page that had to ask more than
 * EVENT_PAGE_SHARD_CALLS shards answers fewer rows than `limit`, with a cursor.
 */
export async function listEvents(
  env: Env,
  q: { name?: string | undefined; since?: number | undefined; until?: number | undefined; after: PagePosition | undefined; limit: number },
): Promise<{ rows: ListedEvent[]; next: PagePosition | null }> {
  const untilPos = q.until === undefined ? undefined : { at: q.until, id: "" };
  const before = q.after && (!untilPos || q.after.at < untilPos.at) ? q.after : untilPos;
  const top = before === undefined ? Number.MAX_SAFE_INTEGER : bucketOfTime(before.at);
  const from = q.since === undefined ? 0 : bucketOfTime(q.since);
  const found: ListedEvent[] = [];
  let calls = 0;
  for (const shards of byBucket(await shardsBetween(env.DB, "event_shards", from, top, "newest"))) {
    if (calls > 0 && calls + shards.length > EVENT_PAGE_SHARD_CALLS) {
      const rows = found.sort(newestFirst).slice(0, q.limit);
      return { rows, next: { at: bucketStart(shards[0]!.bucket + 1), id: "" } };
    }
    calls += shards.length;
    const pages = await Promise.all(
      shards.map((p) => eventStub(env, p).page({ name: q.name, since: q.since, before, limit: q.limit + 1 })),
    );
    for (const page of pages) found.push(...page);
    if (found.length > q.limit) break;
  }
  const sorted = found.sort(newestFirst);
  const rows = sorted.slice(0, q.limit);
  const last = rows[rows.length - 1];
  return { rows, next: sorted.length > q.limit && last ? { at: last.accepted_at, id: last.id } : null };
}

/**
 * Events of this name accepted at or after `since`, oldest first, at most
 * `limit`: what a wait looks back on when it registers. Asks an hour's
 * shards at a time, and stops once it has `limit`.
 */
export async function eventsSince(env: Env, name: string, since: number, limit: number): Promise<string[]> {
  const found: { id: string; accepted_at: number; payload: string }[] = [];
  for (const shards of byBucket(await shardsBetween(env.DB, "event_shards", bucketOfTime(since), Number.MAX_SAFE_INTEGER, "oldest"))) {
    const pages = await Promise.all(shards.map((p) => eventStub(env, p).since(name, since, limit)));
    const hour = pages.flat().sort((a, b) => a.accepted_at - b.accepted_at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    found.push(...hour);
    if (found.length >= limit) break;
  }
  return found.slice(0, limit).map((r) => r.payload);
}

/**
 * Up to `limit` acceptances accepted before `before`, undispatched with
 * sweeps left, oldest first after `after`, from the shards of buckets `from`
 * on; `oldest` is the first bucket that held one (the sweeper need not look
 * below it again), or null when none did.
 */
export async function staleEvents(
  env: Env,
  from: number,
  before: number,
  limit: number,
  after: Acceptance,
): Promise<{ stale: Acceptance[]; oldest: number | null }> {
  const start = Math.max(from, after[1] < 0 ? 0 : bucketOfTime(after[1]));
  const found: Acceptance[] = [];
  let oldest: number | null = null;
  for (const shards of byBucket(await shardsBetween(env.DB, "event_shards", start, bucketOfTime(before), "oldest"))) {
    const pages = await Promise.all(shards.map((p) => eventStub(env, p).stale(before, limit, after)));
    const hour = pages.flat() as Acceptance[];
    if (hour.length > 0) oldest ??= shards[0]!.bucket;
    found.push(...hour);
    if (found.length >= limit) break;
  }
  found.sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return { stale: found.slice(0, limit), oldest };
}

/**
 * Deletes acceptances past their period, oldest shards first, asking at most
 * `maxShards` shards for up to `limit` each; answers how many went and
 * whether shards were left unasked or one had a full page.
 */
export async function pruneEvents(
  env: Env,
  before: number,
  undispatchedBefore: number,
  limit: number,
  maxShards: number,
): Promise<{ deleted: number; behind: boolean }> {
  const shards = await shardsBetween(env.DB, "event_shards", 0, bucketOfTime(before), "oldest");
  const asked = shards.slice(0, maxShards);
  let deleted = 0;
  let full = false;
  for (let i = 0; i < asked.length; i += WAVE) {
    const results = await Promise.all(asked.slice(i, i + WAVE).map((p) => eventStub(env, p).prune(p, before, undispatchedBefore, limit)));
    deleted += results.reduce((n, r) => n + r.deleted, 0);
    full ||= results.some((r) => r.deleted >= limit);
  }
  return { deleted, behind: full || shards.length > maxShards };
}

/** The dedupe of this engine: its window, and ids kept as long as their events (at least the window). */
export const dedupeOf = (config: EngineConfig): Dedupe => ({
  windowMs: config.limits.dedupeWindowMs,
  keepMs: Math.max(config.limits.dedupeWindowMs, config.retention.events),
});
