import { eventPayloadSchema } from "../../sdk/internal";
import type { EngineConfig } from "../config";
import { toJsonSchema } from "./json-schema";

type Json = Record<string, unknown>;

/**
 * An event whose name has a registered schema, as JSON Schema: the generic
 * event with that name and that `data`. A schema JSON Schema cannot hold
 * whole (one that refers to itself) is shown as any object, with a note.
 */
function typedEvent(event: Json, name: string, schema: Parameters<typeof toJsonSchema>[0]): Json {
  let data: Json;
  try {
    data = toJsonSchema(schema);
    if (JSON.stringify(data).includes('"$ref"')) throw new Error("refers to itself");
  } catch {
    data = { type: "object", description: "checked by the engine's schema for this event, which JSON Schema cannot show" };
  }
  const properties = event.properties as Json;
  return {
    ...event,
    properties: { ...properties, name: { const: name }, data },
    // `data` may be left out when the schema takes `{}`, which is what ingest checks then.
    required: schema.safeParse({}).success ? ["name"] : ["name", "data"],
  };
}

/**
 * The ingest body with your events' schemas in it: one event or an array of
 * them, each either an event of a registered name, with that name's `data`,
 * or an event of any other name. Exactly one of those fits any event.
 */
export function eventsBody(config: EngineConfig): Json {
  const event = toJsonSchema(eventPayloadSchema);
  const names = Object.keys(config.schemas).sort();
  const anyOther: Json = {
    ...event,
    properties: { ...(event.properties as Json), name: { ...((event.properties as Json).name as Json), not: { enum: names } } },
  };
  const oneEvent: Json =
    names.length === 0 ? event : { oneOf: [...names.map((name) => typedEvent(event, name, config.schemas[name]!)), anyOther] };
  return {
    description: `one event or an array of 1-${config.limits.maxEventsPerRequest}; the body at most ${config.limits.maxRequestBytes} bytes`,
    oneOf: [oneEvent, { type: "array", items: oneEvent, minItems: 1, maxItems: config.limits.maxEventsPerRequest }],
  };
}
