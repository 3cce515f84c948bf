import { bucketOfTime, type ShardPlace } from "../listing/keys";
import { fnv1a } from "../shared/fnv";

/**
 * Where the event store keeps things (docs/scale.md#the-events-off-d1). An
 * acceptance of an event lives in the shard of the hour it was accepted in
 * and the hash of its id, so a message naming an acceptance finds its shard
 * without a lookup. Each id's latest acceptance lives in the id shard of its
 * hash, the one place that tells a duplicate from a new event.
 */

/** Event shards per hour: at 10,000 events a second, about 625 a second and 2.9 GB an hour each (docs/scale.md). */
export const EVENT_SHARDS = 16;
/** Id shards: at 10,000 events a second kept 7 days, about 95 million ids (6.6 GB) each. */
export const ID_SHARDS = 64;

/** One acceptance of an event: its id and when it was accepted, which tell a re-acceptance from the first. */
export type Acceptance = [id: string, acceptedAt: number];

/** One acceptance as a set key. */
export const acceptanceKey = (id: string, acceptedAt: number): string => `${id} ${acceptedAt}`;

/** The event shard of one acceptance. */
export const eventPlace = (id: string, acceptedAt: number): ShardPlace => ({
  bucket: bucketOfTime(acceptedAt),
  shard: fnv1a(id) % EVENT_SHARDS,
});

export const eventShardName = (p: ShardPlace): string => `e.${p.bucket}.${p.shard}`;

/** The id shard of an event id. */
export const idShardName = (id: string): string => `i.${fnv1a(id) % ID_SHARDS}`;

/** Groups items by a key, keeping the first item's order. */
export function groupBy<T>(items: T[], keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  return groups;
}
