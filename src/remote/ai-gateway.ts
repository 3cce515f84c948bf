import { z } from "zod";
import { StepflareError } from "../../sdk/internal";

/**
 * `step.ai.infer` of an app on Inngest's SDKs: the app answers an AIGateway
 * op naming the provider's URL, its request body, the API key and the
 * request's format, and the engine makes the request itself, as Inngest's
 * executor does. The answer's JSON is the step's output, so a retried or
 * replayed run never asks the provider twice for a settled step.
 */

/** The op name Inngest's SDKs give `step.ai.infer`. */
export const AI_GATEWAY_OP = "AIGateway";

const requestSchema = z
  .object({
    url: z.url({ protocol: /^https?$/ }),
    headers: z.record(z.string(), z.string()).nullish(),
    auth_key: z.string().nullish(),
    format: z.string().nullish(),
    body: z.unknown(),
  })
  .loose();

/** A failed request: retried as any step error, then handed to the app's `step.ai.infer` to throw. */
const failure = (message: string) => Object.assign(new Error(message), { name: "AIGatewayError" });

/**
 * Makes the op's request: a JSON POST, the key sent where the format puts it
 * (`Authorization: Bearer` by default; `x-api-key` for Anthropic; the `key`
 * query parameter for Gemini; the whole `Authorization` for Bedrock), then
 * the op's own headers. Answers the provider's JSON; a status over 299, a
 * body that is not JSON or no answer within `timeoutMs` throws. The key
 * never appears in an error: messages name the URL without its query.
 */
export async function performInference(opts: unknown, timeoutMs: number): Promise<unknown> {
  const parsed = requestSchema.safeParse(opts);
  if (!parsed.success) throw new StepflareError("remote_protocol_error", "an AIGateway op needs opts.url (http or https) and opts.body");
  const { url, headers, auth_key: key, format, body } = parsed.data;
  const target = new URL(url);
  const sent = new Headers({ "content-type": "application/json" });
  if (key) {
    if (format === "gemini") target.searchParams.set("key", key);
    else if (format === "anthropic") sent.set("x-api-key", key);
    else if (format === "bedrock") sent.set("authorization", key);
    else sent.set("authorization", `Bearer ${key}`);
  }
  for (const [name, value] of Object.entries(headers ?? {})) sent.set(name, value);
  const where = `${target.origin}${target.pathname}`;
  const hide = (text: string) => (key ? text.split(key).join("[key]") : text);
  let res: Response;
  let text: string;
  try {
    res = await fetch(target, { method: "POST", headers: sent, body: JSON.stringify(body ?? {}), signal: AbortSignal.timeout(timeoutMs) });
    text = await res.text();
  } catch (e) {
    throw failure(`the AI request to ${where} failed: ${hide((e as Error).message)}`);
  }
  if (res.status > 299) throw failure(`${where} answered HTTP ${res.status}: ${hide(text.slice(0, 500))}`);
  try {
    return JSON.parse(text);
  } catch {
    throw failure(`${where} answered HTTP ${res.status} with a body that is not JSON`);
  }
}
