import { serializeError } from "./errors";
import type { StepflareFunction } from "./function";
import { answerCall, answerFailure, type CallAnswer, type CallRequest, DISCOVERY } from "./serve-call";
import { failureId, registerBody } from "./serve-sync";
import { signatureHeader, verifySignature } from "./signature";
import type { Logger, StepflareEnv } from "./types";

/** How the engine and Inngest's SDKs name this SDK in register bodies and headers. */
const SDK = "stepflare:js";

export interface ServeOptions {
  /** The app (a `Stepflare` client): its `id` is the app's id on the engine. */
  client: { readonly id: string };
  functions: StepflareFunction[];
  /**
   * The signing key shared with the engine. By default the Worker's secret
   * `INNGEST_SIGNING_KEY` (and `INNGEST_SIGNING_KEY_FALLBACK`), read on each
   * request. With no key, only a Worker whose `STEPFLARE_DEV` is "true" answers.
   */
  signingKey?: string;
  /** Where the handler's `logger` writes; the console by default. */
  logger?: Logger;
}

/** A fetch handler: `export default { fetch: serve({ client: app, functions: [...] }) }`. */
export type ServeHandler = (request: Request, env?: unknown, ctx?: unknown) => Promise<Response>;

/**
 * Serves Stepflare functions over the Inngest executor protocol, from a
 * Worker of their own: the engine reaches it through a service binding
 * (`createEngine({ services: ["BILLING"] })`), syncs its functions with an
 * in-band `PUT`, and calls it step by step as it calls any Inngest app. The
 * functions keep the same contract as the engine's own: memoized steps,
 * parallel steps, sleeps, waits, invokes, sent events, retries (a step's
 * own too), an error's code, flow control, cancelOn, timeouts and onFailure.
 *
 * @example
 * const app = new Stepflare({ id: "billing" });
 * const charge = app.createFunction({ id: "charge", triggers: [{ event: "shop/order.placed" }] }, handler);
 * export default { fetch: serve({ client: app, functions: [charge] }) };
 */
export function serve(options: ServeOptions): ServeHandler {
  const byId = new Map<string, StepflareFunction>();
  for (const fn of options.functions) {
    if (byId.has(fn.config.id)) throw new TypeError(`serve(): two functions have the id ${JSON.stringify(fn.config.id)}`);
    byId.set(fn.config.id, fn);
  }
  const logger = options.logger ?? console;
  // Each onFailure is served as a function of its own, as Inngest's SDKs serve it.
  const failures = new Map<string, StepflareFunction>();
  for (const fn of byId.values()) {
    if (!fn.onFailure) continue;
    const id = failureId(fn.config.id);
    if (byId.has(id)) throw new TypeError(`serve(): ${JSON.stringify(id)} is both a function and ${fn.config.id}'s onFailure`);
    failures.set(id, fn);
  }
  return async (request, workerEnv) => {
    // The Worker's env: `unknown`, so the handler fits `ExportedHandler`'s fetch whatever its Env.
    const env = (typeof workerEnv === "object" && workerEnv !== null ? workerEnv : {}) as StepflareEnv;
    const vars = env as Record<string, unknown>;
    const text = (name: string) => (typeof vars[name] === "string" && vars[name] !== "" ? (vars[name] as string) : undefined);
    const keys = [options.signingKey ?? text("INNGEST_SIGNING_KEY"), text("INNGEST_SIGNING_KEY_FALLBACK")].filter(
      (k): k is string => k !== undefined,
    );
    const reply = async (status: number, body: unknown, headers: Record<string, string> = {}) => {
      const json = JSON.stringify(body);
      const all: Record<string, string> = { "content-type": "application/json", "x-inngest-sdk": SDK, ...headers };
      if (keys[0]) all["x-inngest-signature"] = await signatureHeader(json, keys[0]);
      return new Response(json, { status, headers: all });
    };
    const refuse = (status: number, code: string, message: string) => reply(status, { name: "StepflareError", code, message });

    if (request.method === "GET") return reply(200, { app_id: options.client.id, function_count: byId.size, sdk: SDK });
    if (request.method !== "POST" && request.method !== "PUT") return refuse(405, "method_not_allowed", "GET, PUT or POST");
    if (keys.length === 0 && text("STEPFLARE_DEV") !== "true") {
      return refuse(
        500,
        "signing_key_missing",
        "serving functions needs the signing key the engine has: set the secret INNGEST_SIGNING_KEY",
      );
    }
    const body = await request.text();
    if (keys.length > 0 && !(await verifySignature(request.headers.get("x-inngest-signature"), body, keys))) {
      return refuse(401, "invalid_signature", "the request has no valid X-Inngest-Signature for this app's signing key");
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return refuse(400, "invalid_request", "the body is not JSON");
    }
    if (request.method === "PUT") {
      if (request.headers.get("x-inngest-sync-kind") !== "in_band") {
        return refuse(400, "sync_in_band_only", "this app syncs in band only: the engine asks it with x-inngest-sync-kind: in_band");
      }
      const url = (parsed as { url?: unknown } | null)?.url;
      if (typeof url !== "string" || !URL.canParse(url)) return refuse(400, "invalid_request", "the body is { url }");
      return reply(200, registerBody(options.client.id, SDK, [...byId.values()], url), { "x-inngest-sync-kind": "in_band" });
    }
    const query = new URL(request.url).searchParams;
    const fnId = query.get("fnId") ?? "";
    const fn = byId.get(fnId);
    const failed = failures.get(fnId);
    if (!fn && !failed) {
      return reply(
        400,
        { name: "StepflareError", code: "function_not_found", message: `no function ${query.get("fnId")}` },
        {
          "x-inngest-no-retry": "true",
        },
      );
    }
    const call = parsed as CallRequest;
    if (typeof call?.event !== "object" || call.event === null) return refuse(400, "invalid_request", "the call has no event");
    let answer: CallAnswer;
    try {
      answer = fn
        ? await answerCall(fn, query.get("stepId") ?? DISCOVERY, call, env, logger)
        : await answerFailure(failed!, call, env, logger);
    } catch (e) {
      answer = { status: 500, body: serializeError(e), noRetry: false };
    }
    if (answer.status === 200 || answer.status === 206) return reply(answer.status, answer.body);
    return reply(answer.status, answer.body, {
      "x-inngest-no-retry": String(answer.noRetry),
      ...(answer.retryAfterS === undefined ? {} : { "retry-after": String(answer.retryAfterS) }),
    });
  };
}
