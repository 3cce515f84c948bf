import type { StepflareFunction } from "../../sdk/internal";
import type { EngineConfig } from "../config";
import { pausedFunctions } from "../d1/pauses";
import { matchPathsOf } from "../d1/waits";
import type { Env } from "../env";
import { markDispatched } from "../events/store";
import type { ListingRow } from "../listing/rows";
import { writeListing } from "../listing/store";
import { type EventMessage, eventsQueueMessageSchema, type StoredEvent } from "../messages/events";
import { isRemote } from "../remote/registry";
import { admitRun } from "./admit";
import { storeArrivals } from "./arrivals";
import type { Item, Part } from "./item";
import type { Registry } from "./match";
import { type Ready, resolveWave } from "./references";
import { runIdFor } from "./run-id";
import { SlotReservations } from "./slots";
import { resumeWaits } from "./waits";

/** Events read from R2 or the event store at once: each is at most about 2 MB stored, so a wave stays far below a Worker's memory. */
const REFERENCE_WAVE = 10;

/**
 * The events queue consumer: fans each event out to one run per subscribed
 * function. Runs are created idempotently (their ids derive from the
 * function and the acceptance), and each message is acknowledged on its own,
 * only once all its runs exist and its events are marked dispatched. The
 * listing rows of every run that started (those of an event whose other runs
 * failed to start too) are written before the dispatch marks, so a failed
 * write, whose events are retried and swept again, is the only way to miss a row.
 */
export async function consumeEvents(batch: MessageBatch<unknown>, env: Env, config: EngineConfig): Promise<void> {
  const tallies: Tally[] = [];
  const parsedItems: Item[] = [];
  for (const msg of batch.messages) {
    const parsed = eventsQueueMessageSchema.safeParse(msg.body);
    if (!parsed.success) {
      console.error(`stepflare: events message ${msg.id} is malformed; retrying toward the dead-letter queue`);
      msg.retry();
      continue;
    }
    const body = parsed.data;
    const bodies: EventMessage[] =
      "events" in body ? body.events.map((event) => ({ v: 1, id: event.id, acceptedAt: body.acceptedAt, event, stored: false })) : [body];
    const tally = new Tally(msg, bodies.length);
    tallies.push(tally);
    for (const b of bodies) parsedItems.push({ msg: tally.part(), body: b });
  }
  try {
    await fanOutAll(env, config, parsedItems);
  } finally {
    for (const t of tallies) t.settle();
  }
}

/**
 * The events of one message: it is acknowledged once all of them are, and
 * retried, whole, if any is (their runs are idempotent, so the others start nothing again).
 */
class Tally {
  #acked = 0;
  #retried = false;
  constructor(
    readonly msg: Message<unknown>,
    readonly size: number,
  ) {}

  part(): Part {
    return { ack: () => void this.#acked++, retry: () => void (this.#retried = true) };
  }

  settle(): void {
    if (this.#retried || this.#acked < this.size) this.msg.retry();
    else this.msg.ack();
  }
}

async function fanOutAll(env: Env, config: EngineConfig, parsedItems: Item[]): Promise<void> {
  const { items } = await storeArrivals(env, config, parsedItems);
  const done: Item[] = [];
  // Each started run's listing row, as start() answered it (final, for a run that ended in its first turn).
  const listing: ListingRow[] = [];
  // The paused functions, read once per batch, on the first event that starts any function.
  let paused: Promise<Map<string, number>> | undefined;
  // The waits' match paths for the names of the inline events, read once per batch; a large event's name is looked up on its own.
  const inlineNames = [...new Set(items.flatMap((i) => (i.body.event ? [i.body.event.name] : [])))];
  let waitPaths: Promise<Map<string, string[]>> | undefined;
  const pathsFor = (name: string) => (inlineNames.includes(name) ? (waitPaths ??= matchPathsOf(env.DB, inlineNames)) : undefined);
  // The remote functions, read (or taken from the cache) once per batch.
  let remote: Promise<Registry> | undefined;
  // Concurrency slots for the batch's new runs, one call per limit.
  const slots = new SlotReservations(env);
  const fanOut = async (item: Item, event: StoredEvent | undefined) => {
    if (!event) {
      console.error(`stepflare: event ${item.body.id} (accepted ${item.body.acceptedAt}) is not stored; retrying`);
      item.msg.retry();
      return;
    }
    remote ??= config.remote.registry(env.DB);
    let functions: StepflareFunction[];
    try {
      functions = [...config.registry.match(event), ...(await remote).match(event)];
    } catch (e) {
      console.error(`stepflare: reading the remote functions for event ${event.id} failed; retrying:`, (e as Error).message);
      item.msg.retry();
      return;
    }
    if (functions.length > 0) paused ??= pausedFunctions(env.DB);
    const started = await Promise.allSettled<ListingRow | null>(
      functions.map(async (fn) => {
        const runId = await runIdFor(fn.config.id, event.id, item.body.acceptedAt);
        const init = {
          runId,
          functionId: fn.config.id,
          event,
          acceptedAt: item.body.acceptedAt,
          ...(isRemote(fn) ? { remote: fn.remote } : {}),
        };
        return admitRun(env, fn, init, (await paused!).has(fn.config.id), slots);
      }),
    );
    // The runs that did start are listed even when a sibling's start failed: a
    // run that ended in its first turn sends no later change, so this row is
    // the only one it gets, and its event may never be delivered again.
    const failed = started.filter((s) => s.status === "rejected");
    for (const s of started) if (s.status === "fulfilled" && s.value) listing.push(s.value);
    if (failed.length === 0) {
      try {
        await resumeWaits(env, event, Date.now(), pathsFor(event.name));
      } catch (e) {
        // Retried as a whole: starting the runs again changes nothing, and a wait takes an event once.
        console.error(`stepflare: offering event ${event.id} to the runs waiting for it failed; retrying:`, (e as Error).message);
        item.msg.retry();
        return;
      }
      done.push(item);
    } else {
      const reason = (failed[0] as PromiseRejectedResult).reason;
      console.error(
        `stepflare: fan-out of event ${event.id} failed for ${failed.length} function(s); retrying:`,
        reason instanceof Error ? reason.message : String(reason),
      );
      item.msg.retry();
    }
  };

  // Events carried inline fan out at once; those carried by reference (large,
  // or swept) are read from R2 or the event store a wave at a time, so a batch of large events
  // never holds more than a wave in memory, and a failed read retries only its wave.
  const byReference = items.filter((i) => !i.body.event);
  await Promise.all([
    ...items.filter((i) => i.body.event).map((i) => fanOut(i, i.body.event)),
    (async () => {
      for (let w = 0; w < byReference.length; w += REFERENCE_WAVE) {
        const wave = byReference.slice(w, w + REFERENCE_WAVE);
        let ready: Ready[];
        try {
          ready = await resolveWave(env, config, wave);
        } catch (e) {
          console.error(`stepflare: reading ${wave.length} event(s) carried by reference failed; retrying them:`, (e as Error).message);
          for (const i of wave) i.msg.retry();
          continue;
        }
        await Promise.all(ready.map((r) => fanOut(r.item, r.event)));
      }
    })(),
  ]);
  // Slots handed back by runs that ended are let go of before the delivery's invocation may end.
  await slots.settled();
  if (listing.length === 0 && done.length === 0) return;
  try {
    // The rows, to their shards, then the marks: an event is marked dispatched only once its runs are listed.
    // A newer row the listing queue already wrote is kept.
    await writeListing(env, listing);
    const acceptances = done.map((d): [string, number] => [d.body.id, d.body.acceptedAt]);
    if (done.length > 0) await markDispatched(env, acceptances, Date.now());
    for (const d of done) d.msg.ack();
  } catch (e) {
    // The runs exist; a redelivery finds them and only writes the listing and marks the events.
    console.error("stepflare: listing runs and marking events dispatched failed; retrying:", (e as Error).message);
    for (const d of done) d.msg.retry();
  }
}
