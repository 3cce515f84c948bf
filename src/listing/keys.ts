import { fnv1a } from "../shared/fnv";
import { ULID_PATTERN, ulidTime } from "../shared/ulid";

/**
 * Where a run's listing row lives: the shard object named by the hour its id
 * was made in and a hash of the id. Run ids are ULIDs made when the run is
 * created, so one run's rows always meet in one shard, and the shards of one
 * hour hold every run created in it.
 */

/** Shard objects per hour: at 10,000 runs a second, about 625 rows a second each (docs/scale.md). */
export const LISTING_SHARDS = 16;
/** The width of a bucket of shards. */
export const BUCKET_MS = 60 * 60 * 1000;

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/** A shard's place: its hour and its index within the hour. */
export interface ShardPlace {
  bucket: number;
  shard: number;
}

/** The time a ULID was made at; 0 for an id that is not one. */
export function idTime(id: string): number {
  if (!ULID_PATTERN.test(id)) return 0;
  let t = 0;
  for (let i = 0; i < 10; i++) t = t * 32 + ALPHABET.indexOf(id[i]!);
  return t;
}

export const bucketOfTime = (ms: number): number => Math.floor(ms / BUCKET_MS);

/** The first time within a bucket. */
export const bucketStart = (bucket: number): number => bucket * BUCKET_MS;

/** The smallest id made at `ms`: ids made earlier sort below it. */
export const idFloor = (ms: number): string => `${ulidTime(ms)}${"0".repeat(16)}`;

/** The shard of one run's row. */
export function placeOf(runId: string): ShardPlace {
  return { bucket: bucketOfTime(idTime(runId)), shard: fnv1a(runId) % LISTING_SHARDS };
}

/** The shard object's name. */
export const shardName = (p: ShardPlace): string => `${p.bucket}.${p.shard}`;

/** Groups items by the shard each belongs to. */
export function byShard<T>(items: T[], idOf: (item: T) => string): { place: ShardPlace; items: T[] }[] {
  const groups = new Map<string, { place: ShardPlace; items: T[] }>();
  for (const item of items) {
    const place = placeOf(idOf(item));
    const name = shardName(place);
    const group = groups.get(name) ?? { place, items: [] };
    group.items.push(item);
    groups.set(name, group);
  }
  return [...groups.values()];
}

/** Shards grouped by bucket, in the order given. */
export function byBucket(places: ShardPlace[]): ShardPlace[][] {
  const out: ShardPlace[][] = [];
  for (const p of places) {
    const last = out[out.length - 1];
    if (last && last[0]!.bucket === p.bucket) last.push(p);
    else out.push([p]);
  }
  return out;
}
