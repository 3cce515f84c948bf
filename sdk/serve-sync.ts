import type { FunctionConfig, StepflareFunction } from "./function";
import { asyncCondition, DISCOVERY } from "./serve-call";

/**
 * What an in-band sync answers for `serve()`: Inngest's register body, each
 * function called at `url?fnId=<id>&stepId=step`, with its config in the
 * shape an Inngest SDK registers it, so the engine applies it as it applies
 * an Inngest app's: triggers, retries, `cancelOn`, `timeouts` and flow control;
 * an `onFailure` handler as a function of its own.
 */
export function registerBody(appId: string, sdk: string, functions: StepflareFunction[], url: string) {
  const steps = (id: string, retries: number) => {
    const stepUrl = new URL(url);
    stepUrl.searchParams.set("fnId", id);
    stepUrl.searchParams.set("stepId", DISCOVERY);
    return {
      [DISCOVERY]: { id: DISCOVERY, name: DISCOVERY, runtime: { type: "http", url: stepUrl.href }, retries: { attempts: retries } },
    };
  };
  return {
    app_id: appId,
    url,
    sdk,
    framework: "stepflare",
    functions: functions.flatMap(({ config, onFailure }) => {
      const fn = {
        id: config.id,
        name: config.name ?? config.id,
        triggers: config.triggers.map((t) => ("cron" in t ? { cron: t.cron } : { event: t.event, ...(t.if ? { expression: t.if } : {}) })),
        ...optionsOf(config),
        steps: steps(config.id, config.retries),
      };
      if (!onFailure) return [fn];
      // The engine's function.failed event, as Inngest's SDKs subscribe a failure handler to it: for this function alone.
      const id = failureId(config.id);
      const trigger = { event: "inngest/function.failed", expression: `event.data.function_id == ${JSON.stringify(config.id)}` };
      return [fn, { id, name: `${config.name ?? config.id} (failure)`, triggers: [trigger], steps: steps(id, config.retries) }];
    }),
  };
}

/** The id an onFailure handler is synced and called under, as Inngest's SDKs name it. */
export const failureId = (functionId: string) => `${functionId}-failure`;

/** A duration the config holds in ms, as Inngest's register body writes durations. */
const text = (ms: number) => `${ms}ms`;

/**
 * The options of a parsed config, as the register body carries them. Flow
 * control goes as parsed (the engine parses it again with the same schema);
 * `cancelOn` becomes Inngest's `cancel`, its `match` an `if`; durations are text.
 */
function optionsOf(config: FunctionConfig): Record<string, unknown> {
  const { cancelOn, timeouts, concurrency, throttle, priority, rateLimit, debounce, batchEvents, singleton, idempotency } = config;
  const cancel = cancelOn?.map(({ event, match, if: cond, timeout }) => {
    const both = asyncCondition(match, cond);
    return { event, ...(both ? { if: both } : {}), ...(timeout === undefined ? {} : { timeout: text(timeout) }) };
  });
  const limits = timeouts && {
    ...(timeouts.start === undefined ? {} : { start: text(timeouts.start) }),
    ...(timeouts.finish === undefined ? {} : { finish: text(timeouts.finish) }),
  };
  const all = { cancel, timeouts: limits, concurrency, throttle, priority, rateLimit, debounce, batchEvents, singleton, idempotency };
  return Object.fromEntries(Object.entries(all).filter(([, v]) => v !== undefined));
}
