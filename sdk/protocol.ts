import { z } from "zod";
import { eventNamePattern } from "./function";

/**
 * The wire contract of `POST /e/:eventKey`, the same shape as Inngest's event
 * API: one event or an array of them. Parsed with this schema by the ingest
 * Worker; `send()` builds bodies that satisfy it.
 */
export const MAX_EVENT_ID_LENGTH = 256;

/**
 * True for text that survives storage unchanged: no control characters and no
 * unpaired UTF-16 surrogates (JSON can carry a lone surrogate as an escape,
 * but stored as UTF-8 it would come back as other characters, and the event
 * could no longer be found by its id).
 */
export function isPlainText(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20) return false;
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return false;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) return false;
  }
  return true;
}

/**
 * A JSON object, answered as it came. Not `z.record`: that copies key by key,
 * and assigning a key named `__proto__` to the copy sets its prototype
 * instead, so the key would silently vanish from the event.
 */
export const plainObject = z
  .custom<Record<string, unknown>>((v) => typeof v === "object" && v !== null && !Array.isArray(v), "expected an object")
  .meta({ jsonSchema: { type: "object" } });

export const eventPayloadSchema = z.object({
  name: z.string({ error: "required, a string" }).regex(eventNamePattern, "1-256 of A-Z a-z 0-9 _ . - / :"),
  data: plainObject.optional(),
  id: z.string().min(1).max(MAX_EVENT_ID_LENGTH).refine(isPlainText, "no control characters or unpaired surrogates").optional(),
  ts: z.number().int().nonnegative().optional(),
  user: plainObject.optional(),
  v: z.string().max(64).optional(),
});

export type EventPayload = z.infer<typeof eventPayloadSchema>;

export const sendResponseSchema = z.object({ ids: z.array(z.string()), status: z.number() });
export type SendResponse = z.infer<typeof sendResponseSchema>;

/** The error envelope every Stepflare HTTP error uses. */
export const errorBodySchema = z.object({ error: z.object({ code: z.string(), message: z.string() }) });
export type ErrorBody = z.infer<typeof errorBodySchema>;
