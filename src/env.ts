import type { StepflareEventsObject } from "./events/object";
import type { StepflareFlowObject } from "./flow/object";
import type { StepflareListingObject } from "./listing/shard";
import type { EventMessage, PackedEventsMessage } from "./messages/events";
import type { FailureMessage } from "./messages/failures";
import type { ListingMessage } from "./messages/listing";
import type { StepMessage } from "./messages/steps";
import type { StepflareRunObject } from "./run/object";
import type { SweeperObject } from "./sweeper/object";

/** The bindings the engine Worker needs; names are fixed, see wrangler.toml. */
export interface Env {
  DB: D1Database;
  EVENTS: Queue<EventMessage | PackedEventsMessage>;
  /**
   * R2 bucket for the queue path's events over 64 KiB, held until the events
   * consumer stores them. Without it those events are stored before ingest
   * answers. Optional shards of the events queue are bound as
   * `EVENTS_1`, `EVENTS_2`, ..., and so are those of the steps and listing
   * queues, as `STEPS_1`, `LISTING_1`, ... (src/shared/queue-shards.ts).
   */
  EVENT_BODIES?: R2Bucket;
  STEPS: Queue<StepMessage>;
  FAILURES: Queue<FailureMessage>;
  /** The run listing's writes, batched by its consumer. */
  LISTING: Queue<ListingMessage>;
  RUNS: DurableObjectNamespace<StepflareRunObject>;
  SWEEPER: DurableObjectNamespace<SweeperObject>;
  /** Flow control: one object per function (or shared key) and limit kind, src/flow/. */
  FLOW: DurableObjectNamespace<StepflareFlowObject>;
  /** The run listing: one object per hour and shard, src/listing/. */
  RUN_LISTING: DurableObjectNamespace<StepflareListingObject>;
  /** The event store: accepted events by hour and shard, and the id index by shard, src/events/. */
  EVENT_STORE: DurableObjectNamespace<StepflareEventsObject>;
  /** Secret: accepted event keys, separated by commas or whitespace. */
  EVENT_KEYS?: string;
  /** Secret: bearer key for /api/v1. When unset outside dev mode, the API answers 401. */
  API_KEY?: string;
  /** Secret: the signing key shared with apps served by the `inngest` SDK (docs/remote-functions.md). */
  INNGEST_SIGNING_KEY?: string;
  /** Secret: a second signing key accepted while rotating. */
  INNGEST_SIGNING_KEY_FALLBACK?: string;
  /** "true" in local development: any event key is accepted and the API is open. */
  STEPFLARE_DEV?: string;
}

export const isDevMode = (env: Env): boolean => env.STEPFLARE_DEV === "true";
