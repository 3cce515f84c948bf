/** An event as the handler sees it: what was sent, with the id and time the engine settled on. */
export interface StepflareEvent<TName extends string = string, TData = Record<string, unknown>> {
  id: string;
  name: TName;
  data: TData;
  ts: number;
  user?: Record<string, unknown>;
  v?: string;
}

export interface Logger {
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
  debug(...args: unknown[]): void;
}

/** Per-step policy. `retries` overrides the function's retries for this step alone. */
export interface StepOptions {
  id: string;
  retries?: number;
}

export interface StepTools {
  /**
   * Runs `fn` once and memoizes its JSON result under a key derived from `id`.
   * A retry or replay of the run returns the stored result without calling `fn` again.
   * Steps started together (for example under `Promise.all`) run in parallel,
   * each in its own execution with its own retries.
   *
   * @example const user = await step.run("load-user", () => db.users.get(id));
   */
  run<T>(idOrOptions: string | StepOptions, fn: (ctx: { attempt: number }) => T | Promise<T>): Promise<Awaited<T>>;
  /**
   * Pauses the run for `duration`: milliseconds, or a string such as "30s", "5m", "2h", "7d" or "1h30m"; at most
   * one year. The run is `sleeping` meanwhile and holds no memory; it wakes from its Durable Object's alarm,
   * across restarts and deploys. A retry of the run, or a replay from its failed step, does not sleep again.
   *
   * @example await step.sleep("wait-a-day", "1d");
   */
  sleep(id: string, duration: number | string): Promise<void>;
  /**
   * Pauses the run until `time`: a Date, an ISO 8601 string or epoch milliseconds, at most a year ahead.
   * A time in the past wakes at once.
   *
   * @example await step.sleepUntil("until-renewal", user.renewsAt);
   */
  sleepUntil(id: string, time: Date | string | number): Promise<void>;
  /**
   * Sends one event or several, as `POST /e/:key` would accept them (schemas included), from a step: memoized,
   * so a retry or replay of the run never sends them twice. An event without an `id` gets one derived from the
   * run and the step, so even a send cut short and tried again is deduplicated. An event ingest would refuse
   * fails the step with `invalid_event`, not retried. Answers the events' ids, in order.
   *
   * @example await step.sendEvent("fan-out", users.map((u) => ({ name: "app/welcome", data: { userId: u.id } })));
   */
  sendEvent(id: string, events: SendEventPayload | SendEventPayload[]): Promise<{ ids: string[] }>;
  /**
   * Waits for an event named `event`, up to `timeout` (required; at most a year), and answers it, or `null` at
   * the timeout. `match: "data.orderId"` takes only an event whose `data.orderId` equals the trigger's; `if` is a
   * CEL expression over `event` (the trigger) and `async` (the candidate). Events accepted after the run's
   * trigger count even if they arrived before the wait began; an event resumes at most one wait of a run.
   *
   * @example const paid = await step.waitForEvent("wait-for-payment", { event: "shop/order.paid", match: "data.orderId", timeout: "1d" });
   */
  waitForEvent(id: string, options: WaitForEventOptions): Promise<StepflareEvent | null>;
  /**
   * Runs another function of the engine as a child run, with an event `stepflare/function.invoked` carrying
   * `data`, and answers its output. A child that fails throws here with code `invoke_failed` (its error in the
   * message); one still going at `timeout` throws `invoke_timeout`. Memoized: a retry never starts a second child.
   *
   * @example const receipt = await step.invoke("charge", { function: chargeCard, data: { orderId }, timeout: "5m" });
   */
  invoke<T = unknown>(id: string, options: InvokeOptions): Promise<T>;
}

/** What `step.invoke` runs: a function (or its id), its event's data and user, and a timeout (at most a year). */
export interface InvokeOptions {
  function: { config: { id: string } } | string;
  data?: Record<string, unknown>;
  user?: Record<string, unknown>;
  timeout?: number | string;
}

/** What `step.waitForEvent` waits for. */
export interface WaitForEventOptions {
  event: string;
  timeout: number | string;
  match?: string;
  if?: string;
}

/** An event a function sends: the fields `POST /e/:key` takes. */
export interface SendEventPayload {
  name: string;
  data?: Record<string, unknown>;
  id?: string;
  ts?: number;
  user?: Record<string, unknown>;
  v?: string;
}

/**
 * The Worker's bindings, as the handler sees them. Augment it to type yours:
 * `declare module "stepflare" { interface StepflareEnv { DB: D1Database } }`.
 */
export interface StepflareEnv {
  [binding: string]: any;
}

export interface HandlerContext<TEvent = StepflareEvent> {
  /** The event that started the run; for a batch (`batchEvents`), its first event. */
  event: TEvent;
  /** Every event of the run, in order: the batch for `batchEvents`, else `[event]`. */
  events: TEvent[];
  /** The Worker's bindings for this invocation (read them here, not at module load). */
  env: StepflareEnv;
  step: StepTools;
  runId: string;
  /** Zero-based attempt of the handler itself (errors thrown outside any step). */
  attempt: number;
  logger: Logger;
}

export type AnyHandler = (ctx: HandlerContext<any>) => unknown;

export interface FailureContext<TEvent = StepflareEvent> {
  event: TEvent;
  env: StepflareEnv;
  runId: string;
  functionId: string;
  error: { name: string; message: string; code?: string };
  logger: Logger;
}

export type AnyFailureHandler = (ctx: FailureContext<any>) => unknown;
