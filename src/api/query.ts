import { z } from "zod";
import { wellFormedHead } from "../../sdk/internal";
import { HttpError } from "../shared/http-error";
import { decodeUtf8 } from "../shared/utf8";

/**
 * Parses query parameters (every value of each, as `c.req.queries()` gives
 * them) with a schema; a bad one, or one given more than once, is a 400
 * naming the parameter.
 */
export function parseQuery<S extends z.ZodType>(schema: S, queries: Record<string, string[]>): z.output<S> {
  const query: Record<string, string> = {};
  for (const [name, values] of Object.entries(queries)) {
    if (values.length > 1)
      throw new HttpError(400, "invalid_query", `${wellFormedHead(name, 64)}: given ${values.length} times; give it once`);
    if (values[0] !== undefined) query[name] = values[0];
  }
  const parsed = schema.safeParse(query);
  if (parsed.success) return parsed.data;
  throw new HttpError(400, "invalid_query", issueText(parsed.error.issues[0], "query", "not a parameter of this route"));
}

/**
 * A strict schema's first issue as an error message: the field and zod's
 * message, or an unknown field's name by its first 64 units (zod's own
 * message would quote it whole, however long) and `unknown`.
 */
export function issueText(issue: z.core.$ZodIssue | undefined, whole: string, unknown: string): string {
  if (issue?.code === "unrecognized_keys") return `${wellFormedHead(issue.keys[0] ?? "", 64)}: ${unknown}`;
  return `${issue?.path.join(".") || whole}: ${issue?.message ?? "invalid"}`;
}

/** A page size in a query: digits only (not `0x10`, `1e1` or ` 5`), from 1 to 100, 20 when absent. */
export const pageLimit = z
  .string()
  .regex(/^\d{1,3}$/, "must be a whole number from 1 to 100")
  .transform(Number)
  .pipe(z.number().int().min(1, "must be a whole number from 1 to 100").max(100, "must be a whole number from 1 to 100"))
  .default(20)
  .meta({ jsonSchema: { type: "integer", minimum: 1, maximum: 100, default: 20, description: "a page's size, written in digits" } });

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
