import type { z } from "zod";
import { decodeUtf8 } from "../ingest/read-body";
import { HttpError } from "../shared/http-error";

/** Parses query parameters with a schema; a bad one is a 400 naming the parameter. */
export function parseQuery<S extends z.ZodType>(schema: S, query: Record<string, string>): z.output<S> {
  const parsed = schema.safeParse(query);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new HttpError(400, "invalid_query", `${issue?.path.join(".") || "query"}: ${issue?.message ?? "invalid"}`);
}

/** A request's JSON body, `{}` when empty; malformed JSON or bytes that are not UTF-8 are a 400 `invalid_json`. */
export async function readJsonBody(req: Request): Promise<unknown> {
  const text = decodeUtf8(new Uint8Array(await req.arrayBuffer()));
  if (!text.trim()) return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, "invalid_json", "request body is not valid JSON");
  }
}
