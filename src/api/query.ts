import type { z } from "zod";
import { HttpError } from "../shared/http-error";

/** Parses query parameters with a schema; a bad one is a 400 naming the parameter. */
export function parseQuery<S extends z.ZodType>(schema: S, query: Record<string, string>): z.output<S> {
  const parsed = schema.safeParse(query);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new HttpError(400, "invalid_query", `${issue?.path.join(".") || "query"}: ${issue?.message ?? "invalid"}`);
}
