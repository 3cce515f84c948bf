import { allShards, shardsBetween } from "../d1/shards";
import type { Env } from "../env";
import { bucketOfTime, bucketStart, byBucket, byShard, idFloor, idTime, placeOf, type ShardPlace, shardName } from "./keys";
import type { ListedRun, ListingRow, PruneBefore } from "./rows";

/**
 * The run listing across its shards (./shard.ts): writes go to the shard of
 * each row's run; reads ask the shards the D1 directory names, bucket by
 * bucket, and merge them. Rows are ordered by run id, that is by when each
 * run was created.
 */

/** Shard calls one page of the listing may make before it answers with what it has and a cursor past them. */
export const PAGE_SHARD_CALLS = 128;
/** Shard calls at once while counting or pruning. */
const COUNT_WAVE = 32;

const stub = (env: Env, p: ShardPlace) => env.RUN_LISTING.get(env.RUN_LISTING.idFromName(shardName(p)));

/** Writes these rows, each to its run's shard, only where newer than the shard's. */
export async function writeListing(env: Env, rows: ListingRow[]): Promise<void> {
  await Promise.all(byShard(rows, (r) => r.id).map((g) => stub(env, g.place).upsert(g.place, g.items)));
}

/** A place in the listing, newest first: the time and id of the last row a page held. */
export interface PagePosition {
  at: number;
  id: string;
}

/**
 * One page of the listing, newest first, optionally of one function or one
 * status, of runs created at or after `since` and before `until`. A page that
 * had to ask more than PAGE_SHARD_CALLS shards answers fewer rows than
 * `limit`, with a cursor to go on from.
 */
export async function listRuns(
  env: Env,
  q: {
    functionId?: string | undefined;
    status?: string | undefined;
    since?: number | undefined;
    until?: number | undefined;
    after: PagePosition | undefined;
    limit: number;
  },
): Promise<{ rows: ListedRun[]; next: PagePosition | null }> {
  const untilId = q.until === undefined ? undefined : idFloor(q.until);
  const beforeId = q.after && (!untilId || q.after.id < untilId) ? q.after.id : untilId;
  const fromId = q.since === undefined ? undefined : idFloor(q.since);
  const top = beforeId === undefined ? Number.MAX_SAFE_INTEGER : bucketOfTime(idTime(beforeId));
  const buckets = byBucket(await shardsBetween(env.DB, "listing_shards", q.since === undefined ? 0 : bucketOfTime(q.since), top, "newest"));
  const found: ListedRun[] = [];
  let calls = 0;
  for (const shards of buckets) {
    if (calls > 0 && calls + shards.length > PAGE_SHARD_CALLS) {
      // Out of calls: the next page starts below this bucket's runs.
      const rows = sortNewest(found).slice(0, q.limit);
      return { rows, next: { at: bucketStart(shards[0]!.bucket + 1), id: idFloor(bucketStart(shards[0]!.bucket + 1)) } };
    }
    calls += shards.length;
    const pages = await Promise.all(
      shards.map((p) => stub(env, p).page({ functionId: q.functionId, status: q.status, fromId, beforeId, limit: q.limit + 1 })),
    );
    for (const page of pages) found.push(...page);
    if (found.length > q.limit) break;
  }
  const sorted = sortNewest(found);
  const rows = sorted.slice(0, q.limit);
  const last = rows[rows.length - 1];
  return { rows, next: sorted.length > q.limit && last ? { at: idTime(last.id), id: last.id } : null };
}

const sortNewest = (rows: ListedRun[]): ListedRun[] => rows.sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));

/** One run's listing row with its version, or null. */
export async function listedRun(env: Env, id: string): Promise<(ListedRun & { version: number }) | null> {
  const row = await stub(env, placeOf(id)).get(id);
  return row && { ...row, version: Number(row.version) };
}

/** The listed runs of one event, oldest start first: its runs were created when it was accepted, so they are in that hour's shards. */
export async function runsOfEvent(env: Env, eventId: string, acceptedAt: number): Promise<ListedRun[]> {
  const bucket = bucketOfTime(acceptedAt);
  const shards = await shardsBetween(env.DB, "listing_shards", bucket, bucket, "oldest");
  const rows = (await Promise.all(shards.map((p) => stub(env, p).ofEvent(eventId)))).flat();
  return rows.sort((a, b) => a.started_at - b.started_at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Where the sweeper's walk of the runs listed as not ended stands: the last row checked, or the start. */
export interface ListingCursor {
  startedAt: number;
  id: string;
}

/**
 * Up to `limit` runs listed as not ended, created before `before`, in id
 * order after `cursor`, asking at most `maxCalls` shards; answers the rows and
 * where the walk goes on from (null: it reached the end).
 */
export async function listedRunning(
  env: Env,
  before: number,
  cursor: ListingCursor,
  limit: number,
  maxCalls = PAGE_SHARD_CALLS,
): Promise<{ rows: { id: string; version: number }[]; next: ListingCursor | null }> {
  const beforeId = idFloor(before);
  const buckets = byBucket(await shardsBetween(env.DB, "listing_shards", bucketOfTime(idTime(cursor.id)), bucketOfTime(before), "oldest"));
  const found: { id: string; version: number }[] = [];
  let calls = 0;
  for (const shards of buckets) {
    if (calls > 0 && calls + shards.length > maxCalls) {
      const next = bucketStart(shards[0]!.bucket);
      return { rows: found.sort(byId), next: { startedAt: next, id: idFloor(next) } };
    }
    calls += shards.length;
    const pages = await Promise.all(shards.map((p) => stub(env, p).notEnded(cursor.id, beforeId, limit)));
    for (const page of pages) found.push(...page);
    if (found.length >= limit) {
      const rows = found.sort(byId).slice(0, limit);
      const last = rows[rows.length - 1]!;
      return { rows, next: { startedAt: idTime(last.id), id: last.id } };
    }
  }
  return { rows: found.sort(byId), next: null };
}

const byId = (a: { id: string }, b: { id: string }): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Marks these runs (id and listed version) failed `run_missing` at `now`, where they are still listed as not ended. */
export async function markMissing(env: Env, runs: [id: string, version: number][], now: number): Promise<void> {
  await Promise.all(byShard(runs, ([id]) => id).map((g) => stub(env, g.place).markMissing(g.items, now)));
}

/** Runs listed per function and status: every shard's counts, summed. */
export async function runCountsByFunction(env: Env): Promise<Map<string, Record<string, number>>> {
  const shards = await allShards(env.DB, "listing_shards");
  const counts = new Map<string, Record<string, number>>();
  for (let i = 0; i < shards.length; i += COUNT_WAVE) {
    const wave = await Promise.all(shards.slice(i, i + COUNT_WAVE).map((p) => stub(env, p).counts()));
    for (const r of wave.flat()) {
      const byStatus = counts.get(r.function_id) ?? {};
      byStatus[r.status] = (byStatus[r.status] ?? 0) + Number(r.n);
      counts.set(r.function_id, byStatus);
    }
  }
  return counts;
}

/** Up to `limit` runs of a function still going, by id after `afterId`, created within the window. */
export async function listCancellable(
  env: Env,
  q: {
    functionId: string;
    startedAfter?: number | undefined;
    startedBefore?: number | undefined;
    afterId?: string | undefined;
    limit: number;
  },
): Promise<string[]> {
  const fromId = q.startedAfter === undefined ? undefined : idFloor(q.startedAfter);
  const beforeId = q.startedBefore === undefined ? undefined : idFloor(q.startedBefore);
  const first = Math.max(q.startedAfter === undefined ? 0 : bucketOfTime(q.startedAfter), q.afterId ? bucketOfTime(idTime(q.afterId)) : 0);
  const last = q.startedBefore === undefined ? Number.MAX_SAFE_INTEGER : bucketOfTime(q.startedBefore);
  const found: string[] = [];
  for (const shards of byBucket(await shardsBetween(env.DB, "listing_shards", first, last, "oldest"))) {
    const pages = await Promise.all(
      shards.map((p) => stub(env, p).cancellable({ functionId: q.functionId, fromId, beforeId, afterId: q.afterId, limit: q.limit })),
    );
    for (const page of pages) found.push(...page);
    if (found.length >= q.limit) break;
  }
  return found.sort().slice(0, q.limit);
}

/** Removes one run's row, at or below `version`: its object expired (a newer row, from a replay, stays). */
export async function deleteListed(env: Env, id: string, version: number): Promise<void> {
  await stub(env, placeOf(id)).remove(id, version);
}

/**
 * Deletes rows of runs ended before their status's time, oldest shards first,
 * asking at most `maxShards` shards for up to `limit` rows each; answers how
 * many went and whether shards were left unasked.
 */
export async function pruneListing(
  env: Env,
  before: PruneBefore,
  limit: number,
  maxShards: number,
): Promise<{ deleted: number; behind: boolean }> {
  // A run ends after it is created: only shards of hours before the latest time can hold rows to delete.
  const latest = Math.max(before.completed, before.failed, before.cancelled);
  const shards = await shardsBetween(env.DB, "listing_shards", 0, bucketOfTime(latest), "oldest");
  const asked = shards.slice(0, maxShards);
  let deleted = 0;
  let full = false;
  for (let i = 0; i < asked.length; i += COUNT_WAVE) {
    const results = await Promise.all(asked.slice(i, i + COUNT_WAVE).map((p) => stub(env, p).prune(p, before, limit)));
    deleted += results.reduce((n, r) => n + r.deleted, 0);
    full ||= results.some((r) => r.deleted >= limit);
  }
  return { deleted, behind: full || shards.length > maxShards };
}
