import { StepflareError } from "../../sdk/internal";
import type { EngineConfig } from "../config";
import type { Env } from "../env";
import { dedupeOf } from "../events/store";
import { HttpError } from "../shared/http-error";
import { prepareEvents, writeEvents } from "./accept";
import { parseEventList } from "./parse-events";

/**
 * The events of a `step.sendEvent`, accepted as ingest accepts a request:
 * the same checks (shape, schemas, depth, count, size), the same durable
 * write and the same queue. An event with no id gets one derived from the
 * run and the step (`<runId>.<stepKey>.<index>`), so a retried attempt or a
 * replayed run sends nothing twice within the dedupe window. What ingest
 * would refuse fails the step for good, with ingest's code.
 */
export async function sendFromStep(
  env: Env,
  config: EngineConfig,
  runId: string,
  stepKey: string,
  events: unknown[],
): Promise<{ ids: string[] }> {
  let prepared: Awaited<ReturnType<typeof prepareEvents>>;
  try {
    const payloads = parseEventList(events, config.limits.maxEventsPerRequest, config.schemas).map((p, i) => ({
      ...p,
      id: p.id ?? `${runId}.${stepKey}.${i}`,
    }));
    prepared = await prepareEvents(payloads);
  } catch (e) {
    if (e instanceof HttpError) throw new StepflareError(e.code, e.message);
    throw e;
  }
  const { results, after } = await writeEvents(env, [prepared], dedupeOf(config));
  await after;
  return { ids: results[0]!.ids };
}
