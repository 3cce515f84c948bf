import { ulid } from "../shared/ulid";

/**
 * The `EVENT_BODIES` bucket: on the queue path, the JSON of each event too
 * large to ride in its message, from the moment ingest accepts it until the
 * events consumer has stored it in the event store. All of the bucket's reads and writes
 * are here.
 */

/** An object's key: its acceptance time first, so leftovers can be listed (and aged out) by prefix. */
export const bodyKey = (acceptedAt: number): string => `events/${acceptedAt}/${ulid(acceptedAt)}`;

/** Stores one event's JSON under `key`; resolves once R2 has it. */
export async function putBody(bucket: R2Bucket, key: string, eventJson: string): Promise<void> {
  await bucket.put(key, eventJson, { httpMetadata: { contentType: "application/json" } });
}

/** The JSON stored under `key`, or null when there is no such object (already stored in the event store and deleted). */
export async function getBody(bucket: R2Bucket, key: string): Promise<string | null> {
  const object = await bucket.get(key);
  return object ? object.text() : null;
}

/** Deletes these objects (a missing one is no error); logs a failure, which leaves them to the bucket's lifecycle rule. */
export async function deleteBodies(bucket: R2Bucket, keys: string[]): Promise<void> {
  if (keys.length === 0) return;
  try {
    // R2 deletes up to 1,000 keys in one call.
    for (let i = 0; i < keys.length; i += 1000) await bucket.delete(keys.slice(i, i + 1000));
  } catch (e) {
    console.error(
      `stepflare: deleting ${keys.length} event bodies from R2 failed; they stay until the lifecycle rule:`,
      (e as Error).message,
    );
  }
}
