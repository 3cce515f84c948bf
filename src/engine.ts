import { buildApp } from "./app";
import { type EngineConfig, type EngineOptions, resolveConfig } from "./config";
import { runSchedules } from "./cron/scheduled";
import { consumeDeadLetters } from "./dlq/consumer";
import type { Env } from "./env";
import { StepflareEventsObject } from "./events/object";
import { consumeEvents } from "./fanout/consumer";
import { StepflareFlowObject } from "./flow/object";
import { consumeListing } from "./listing/consumer";
import { StepflareListingObject } from "./listing/shard";
import { type QueueNames, queueNamesSchema, shardedBase } from "./queues";
import { syncNewServices } from "./remote/auto-sync";
import { StepflareRunObject } from "./run/object";
import { consumeSteps } from "./steps/consumer";
import { SweeperObject } from "./sweeper/object";

export interface CreateEngineOptions extends EngineOptions {
  queues?: Partial<QueueNames>;
}

/** What `createEngine` answers: the Worker's handlers and the five Durable Object classes. */
export interface Engine {
  worker: {
    fetch(req: Request, env: Env, ctx: ExecutionContext): Response | Promise<Response>;
    queue(batch: MessageBatch<unknown>, env: Env, ctx: ExecutionContext): Promise<void>;
    scheduled(controller: ScheduledController, env: Env, ctx: ExecutionContext): Promise<void>;
  };
  StepflareRun: new (ctx: DurableObjectState, env: Env) => StepflareRunObject;
  StepflareSweeper: new (ctx: DurableObjectState, env: Env) => SweeperObject;
  StepflareFlow: new (ctx: DurableObjectState, env: Env) => StepflareFlowObject;
  StepflareListing: new (ctx: DurableObjectState, env: Env) => StepflareListingObject;
  StepflareEvents: new (ctx: DurableObjectState, env: Env) => StepflareEventsObject;
  config: EngineConfig;
}

/**
 * Builds the engine Worker around your functions. Export `worker` as the
 * default export and the five Durable Object classes under these names.
 *
 * @example
 * const engine = createEngine({ functions: [welcome, trial], schemas: app.schemas });
 * export default engine.worker;
 * export const { StepflareRun, StepflareSweeper, StepflareFlow, StepflareListing, StepflareEvents } = engine;
 */
export function createEngine(options: CreateEngineOptions): Engine {
  const config = resolveConfig(options);
  const names = queueNamesSchema.parse(options.queues ?? {});
  const app = buildApp(config);

  const worker = {
    fetch: (req: Request, env: Env, ctx: ExecutionContext) => app.fetch(req, env, ctx),
    async queue(batch, env, ctx) {
      // A shard of the events, steps or listing queue is consumed as the queue itself.
      const queue = shardedBase(names, batch.queue);
      if (queue === names.events) {
        await syncNewServices(env, config);
        return consumeEvents(batch, env, config);
      }
      switch (queue) {
        case names.steps:
          return consumeSteps(batch, env, ctx, config);
        case names.listing:
        case names.listingDeadLetter:
          return consumeListing(batch, env, names);
        case names.failures:
        case names.eventsDeadLetter:
        case names.stepsDeadLetter:
          return consumeDeadLetters(batch, env, names);
        default:
          throw new Error(`stepflare: no consumer for queue ${batch.queue}`);
      }
    },
    // Cron Triggers: wrangler.toml's `crons = ["* * * * *"]` calls this every minute; it starts the functions whose cron is due.
    scheduled: (controller, env) => runSchedules(controller.scheduledTime, env, config),
  } satisfies ExportedHandler<Env, unknown>;

  class StepflareRun extends StepflareRunObject {
    constructor(ctx: DurableObjectState, env: Env) {
      super(ctx, env, config);
    }
  }

  class StepflareSweeper extends SweeperObject {
    constructor(ctx: DurableObjectState, env: Env) {
      super(ctx, env, config);
    }
  }

  class StepflareFlow extends StepflareFlowObject {
    constructor(ctx: DurableObjectState, env: Env) {
      super(ctx, env, config);
    }
  }

  class StepflareListing extends StepflareListingObject {}

  class StepflareEvents extends StepflareEventsObject {}

  return { worker, StepflareRun, StepflareSweeper, StepflareFlow, StepflareListing, StepflareEvents, config };
}
