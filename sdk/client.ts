import type { z } from "zod";
import { defineFunction, type FunctionConfigInput, type StepflareFunction } from "./function";
import { type EventPayload, errorBodySchema, sendResponseSchema } from "./protocol";
import type { FailureContext, HandlerContext, StepflareEvent } from "./types";

export type EventSchemas = Record<string, z.ZodType<Record<string, unknown>>>;

type DataOf<S extends EventSchemas, N extends string> = N extends keyof S ? z.infer<S[N]> : Record<string, unknown>;
type EventOf<S extends EventSchemas, N extends string> = StepflareEvent<N, DataOf<S, N>>;

/** What starts a function: an event (a name or a pattern) with an optional CEL filter, or a cron schedule. */
export type Trigger<N extends string = string> = { event: N; if?: string } | { cron: string };

export interface StepflareOptions<S extends EventSchemas> {
  /** The app's id, used in logs. */
  id: string;
  /** One zod schema per event name: types `event.data` and, in the engine, validates at ingest. */
  schemas?: S;
  /** For `send()` from outside the Worker. */
  baseUrl?: string;
  eventKey?: string;
}

export class SendError extends Error {
  override name = "SendError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The app: where functions are defined and events are typed.
 *
 * @example
 * const app = new Stepflare({ id: "shop", schemas: { "app/user.signup": z.object({ email: z.string() }) } });
 * export const welcome = app.createFunction(
 *   { id: "send-welcome-email", triggers: [{ event: "app/user.signup" }] },
 *   async ({ event, step }) => step.run("send", () => mailer.send(event.data.email)),
 * );
 */
export class Stepflare<S extends EventSchemas = EventSchemas> {
  readonly id: string;
  readonly schemas: S;
  readonly #baseUrl: string | undefined;
  readonly #eventKey: string | undefined;

  constructor(options: StepflareOptions<S>) {
    this.id = options.id;
    this.schemas = (options.schemas ?? {}) as S;
    this.#baseUrl = options.baseUrl;
    this.#eventKey = options.eventKey;
  }

  createFunction<N extends string>(
    config: Omit<FunctionConfigInput, "triggers"> & {
      triggers: [Trigger<N>, ...Trigger<N>[]];
      onFailure?: (ctx: FailureContext<EventOf<S, N>>) => unknown;
    },
    handler: (ctx: HandlerContext<EventOf<S, N>>) => unknown,
  ): StepflareFunction {
    const { onFailure, ...rest } = config;
    return defineFunction(rest, handler, onFailure);
  }

  /** Sends events to a Stepflare ingest URL; answers their ids in order. */
  async send(
    events: EventPayload | EventPayload[],
    options: { baseUrl?: string; eventKey?: string; fetch?: typeof fetch } = {},
  ): Promise<string[]> {
    const baseUrl = options.baseUrl ?? this.#baseUrl;
    const eventKey = options.eventKey ?? this.#eventKey;
    if (!baseUrl || !eventKey) throw new TypeError("send() needs a baseUrl and an eventKey");
    const doFetch = options.fetch ?? fetch;
    const res = await doFetch(`${baseUrl.replace(/\/+$/, "")}/e/${encodeURIComponent(eventKey)}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(events),
    });
    const body: unknown = await res.json().catch(() => undefined);
    if (!res.ok) {
      const parsed = errorBodySchema.safeParse(body);
      throw parsed.success
        ? new SendError(res.status, parsed.data.error.code, parsed.data.error.message)
        : new SendError(res.status, "http_error", `ingest answered HTTP ${res.status}`);
    }
    return sendResponseSchema.parse(body).ids;
  }
}
