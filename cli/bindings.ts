/**
 * The bindings the engine needs, under the names it reads (src/env.ts,
 * src/queues.ts): what `stepflare init` writes, and what the repository's
 * top-level wrangler.toml holds (cli/init.test.ts keeps the two equal).
 */

export const COMPATIBILITY_FLAG = "queue_consumer_no_wait_for_wait_until";
/** The Cron Trigger the engine's scheduled handler needs: every minute, when it checks each function's cron. */
export const ENGINE_CRON = "* * * * *";

export interface D1Binding {
  binding: string;
  database_name: string;
  database_id: string;
  migrations_dir: string;
}

export interface DurableObjectBinding {
  name: string;
  class_name: string;
}

export interface Migration {
  tag: string;
  new_sqlite_classes: string[];
}

export interface R2Binding {
  binding: string;
  bucket_name: string;
}

export interface QueueProducer {
  binding: string;
  queue: string;
}

export interface QueueConsumer {
  queue: string;
  max_batch_size: number;
  max_batch_timeout: number;
  max_retries: number;
  retry_delay: number;
  max_concurrency: number;
  dead_letter_queue?: string;
}

export interface Bindings {
  compatibility_flags: string[];
  d1_databases: D1Binding[];
  durable_objects: { bindings: DurableObjectBinding[] };
  migrations: Migration[];
  r2_buckets: R2Binding[];
  queues: { producers: QueueProducer[]; consumers: QueueConsumer[] };
  triggers: { crons: string[] };
}

/** The events and steps queues: big batches, wide fan-out, their own dead letters. */
const work = (queue: string): QueueConsumer => ({
  queue,
  max_batch_size: 100,
  max_batch_timeout: 0,
  max_retries: 5,
  retry_delay: 1,
  max_concurrency: 250,
  dead_letter_queue: `${queue}-dlq`,
});

/** Dead letters and failures: few consumers, patient retries. */
const failures = (queue: string): QueueConsumer => ({
  queue,
  max_batch_size: 100,
  max_batch_timeout: 0,
  max_retries: 10,
  retry_delay: 5,
  max_concurrency: 10,
});

export const RUN_CLASSES = ["StepflareRun", "StepflareSweeper", "StepflareFlow", "StepflareListing", "StepflareEvents"];

/** Every binding, with the D1 migrations read from `migrationsDir`. */
export function stepflareBindings(migrationsDir: string): Bindings {
  return {
    compatibility_flags: [COMPATIBILITY_FLAG],
    d1_databases: [
      { binding: "DB", database_name: "stepflare", database_id: "00000000-0000-0000-0000-000000000000", migrations_dir: migrationsDir },
    ],
    durable_objects: {
      bindings: [
        { name: "RUNS", class_name: "StepflareRun" },
        { name: "SWEEPER", class_name: "StepflareSweeper" },
        { name: "FLOW", class_name: "StepflareFlow" },
        { name: "RUN_LISTING", class_name: "StepflareListing" },
        { name: "EVENT_STORE", class_name: "StepflareEvents" },
      ],
    },
    migrations: [{ tag: "v1", new_sqlite_classes: RUN_CLASSES }],
    // The queue path's events over 64 KiB, held until the events consumer stores them in D1.
    r2_buckets: [{ binding: "EVENT_BODIES", bucket_name: "stepflare-event-bodies" }],
    queues: {
      producers: [
        { binding: "EVENTS", queue: "stepflare-events" },
        { binding: "STEPS", queue: "stepflare-steps" },
        { binding: "FAILURES", queue: "stepflare-failures" },
        { binding: "LISTING", queue: "stepflare-listing" },
      ],
      consumers: [
        work("stepflare-events"),
        // Ten steps a message, ten messages a delivery: at most 100 steps per invocation.
        { ...work("stepflare-steps"), max_batch_size: 10 },
        failures("stepflare-failures"),
        failures("stepflare-events-dlq"),
        failures("stepflare-steps-dlq"),
        // The run listing's writes: few consumers, so each delivery carries many rows.
        { ...work("stepflare-listing"), max_retries: 10, max_concurrency: 2 },
        // Hand-backs of listing rows their shard failed ten times: a minute apart.
        { ...failures("stepflare-listing-dlq"), retry_delay: 60 },
      ],
    },
    triggers: { crons: [ENGINE_CRON] },
  };
}
