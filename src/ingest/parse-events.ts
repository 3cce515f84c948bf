import type { z } from "zod";
import { type EventPayload, eventPayloadSchema } from "../../sdk/internal";
import { HttpError } from "../shared/http-error";
import { MAX_EVENT_DEPTH, nestsDeeperThan } from "./nesting";

/** The prefix of the engine's own event names. */
export const RESERVED_PREFIX = "stepflare/";

/**
 * Parses an ingest body into events: one event or an array of them. Every
 * problem becomes a 400 naming the event's index and the field.
 */
export function parseEvents(text: string, maxEvents: number, schemas: Record<string, z.ZodType>): EventPayload[] {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new HttpError(400, "invalid_json", "request body is not valid JSON");
  }
  return parseEventList(Array.isArray(body) ? body : [body], maxEvents, schemas);
}

/** Checks a list of events as ingest does: their shape, their schemas (`schemas`), their depth, how many. */
export function parseEventList(list: unknown[], maxEvents: number, schemas: Record<string, z.ZodType>): EventPayload[] {
  if (list.length === 0) throw new HttpError(400, "invalid_event", "no events: send an event or a non-empty array of events");
  if (list.length > maxEvents) {
    throw new HttpError(400, "invalid_event", `too many events: ${list.length} in one request, the limit is ${maxEvents}`);
  }
  return list.map((raw, index) => {
    const parsed = eventPayloadSchema.safeParse(raw);
    if (!parsed.success) throw invalid(index, parsed.error.issues[0]);
    // The engine's own events (stepflare/function.failed, ...) cannot be sent, so none can be forged.
    if (parsed.data.name.startsWith(RESERVED_PREFIX)) {
      throw new HttpError(400, "invalid_event", `event ${index}: name: names starting "${RESERVED_PREFIX}" are the engine's own`);
    }
    const schema = schemas[parsed.data.name];
    if (schema) {
      const data = schema.safeParse(parsed.data.data ?? {});
      if (!data.success) throw invalid(index, data.error.issues[0], ["data"]);
      // Checked in its JSON form, as it will be stored: an object with a toJSON (a Date) is written as what that answers.
      if (!jsonOf(index, parsed.data.name, data.data)?.startsWith("{")) {
        throw schemaOutput(index, parsed.data.name, "returned data that is not an object");
      }
      parsed.data.data = data.data as Record<string, unknown>;
    }
    for (const field of ["data", "user"] as const) {
      if (nestsDeeperThan(parsed.data[field], MAX_EVENT_DEPTH - 1)) {
        throw new HttpError(400, "invalid_event", `event ${index}: ${field}: nested more than ${MAX_EVENT_DEPTH} levels deep`);
      }
    }
    return parsed.data;
  });
}

function invalid(index: number, issue: z.core.$ZodIssue | undefined, prefix: PropertyKey[] = []): HttpError {
  const path = [...prefix, ...(issue?.path ?? [])].map(String).join(".") || "(event)";
  return new HttpError(400, "invalid_event", `event ${index}: ${path}: ${issue?.message ?? "invalid"}`);
}

function jsonOf(index: number, name: string, value: unknown): string | undefined {
  try {
    return JSON.stringify(value);
  } catch (err) {
    // A BigInt, a cycle.
    throw schemaOutput(index, name, `returned data that is not JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * The schema registered for an event's name gave an output that cannot be
 * stored as the event's data. The sender's event was valid, so this is the
 * engine's configuration at fault: a 500 with its own code, for the operator.
 */
function schemaOutput(index: number, name: string, problem: string): HttpError {
  console.error(`stepflare: the schema for "${name}" ${problem}; events of that name cannot be accepted`);
  return new HttpError(
    500,
    "invalid_schema_output",
    `event ${index}: the schema for "${name}" ${problem}; its output is stored as the event's data, a JSON object`,
  );
}
