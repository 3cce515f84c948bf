import type { Env } from "../env";
import { deleteListed } from "../listing/store";
import type { RunStore } from "./store";
import { postponeExpiry } from "./transitions";
import type { TimerKind } from "./types";

/** What must be done before a run's storage may go: each is a timer until it is. */
const FOLLOW_UPS: TimerKind[] = ["dead-letter", "on-failure", "system-event", "notify-parent", "listing-sync", "slot-release"];
/** A run past its retention with a follow-up not done is looked at again this much later. */
const POSTPONE_MS = 60_000;
/** The one key an expired run's object keeps, for a while: when it expired. */
const TOMBSTONE = "expired-at";

/**
 * A run past its retention: its listing row is deleted from D1, then every
 * byte of its object's storage (`deleteAll`), so storage stays bounded at a
 * steady load. A follow-up of its ending still pending (a dead letter not yet
 * stored, say) postpones it. The object then keeps only a tombstone, so the
 * API can say the run expired, for `tombstoneMs` more; its alarm deletes that
 * too. Answers whether the run is gone.
 */
export async function expireRun(
  env: Env,
  store: RunStore,
  storage: DurableObjectStorage,
  now: number,
  tombstoneMs: number,
): Promise<boolean> {
  const run = store.run;
  if (!run) return true;
  if (FOLLOW_UPS.some((kind) => store.hasTimer(kind))) {
    postponeExpiry(store, now + POSTPONE_MS);
    return false;
  }
  await deleteListed(env, run.id, run.version);
  await storage.deleteAlarm();
  await storage.deleteAll();
  store.forget();
  await storage.put(TOMBSTONE, now);
  await storage.setAlarm(now + tombstoneMs);
  return true;
}

/** Whether this object held a run that expired (within its tombstone's time). */
export async function hasExpired(storage: DurableObjectStorage): Promise<boolean> {
  return (await storage.get(TOMBSTONE)) !== undefined;
}

/** The tombstone's time is up: the object keeps nothing at all. */
export async function dropTombstone(storage: DurableObjectStorage): Promise<void> {
  if (await hasExpired(storage)) await storage.deleteAll();
}
