import type { MiddlewareHandler } from "hono";
import { z } from "zod";
import type { EngineConfig } from "../config";
import { functionsOfOtherApps, saveRemoteApp } from "../d1/remote";
import type { Env } from "../env";
import { HttpError } from "../shared/http-error";
import { BINDING_NAME, serviceBinding } from "./bindings";
import { callOptions } from "./keys";
import { definitionsOf, registerBody } from "./register";
import { canonicalJson, signatureHeader, verifySignature } from "./signature";

/** How long the app may take to answer a sync. */
const SYNC_TIMEOUT_MS = 30_000;

const syncSchema = z
  .object({
    service: z.string().regex(BINDING_NAME),
    /** Where in that Worker `serve()` answers; `/` when it is the Worker's whole fetch. */
    path: z
      .string()
      .regex(/^\/[\w\-./]*$/)
      .max(256)
      .default("/"),
  })
  .strict();

/** The in-band sync's answer, as Inngest's SDKs and `serve()` give it. */
const inBandSchema = z.object({ app_id: z.string(), url: z.string(), sdk: z.string().optional(), functions: z.unknown() }).loose();

/**
 * Syncs the functions of the Worker behind service binding `binding`: an
 * in-band sync (a signed `PUT` answered with the app's functions, as
 * Inngest's SDKs answer one), so that Worker needs no public URL and no
 * route back to the engine. Its functions are stored as any app's, called
 * through the binding. Answers the app and its function ids.
 */
export async function syncService(env: Env, config: EngineConfig, binding: string, path = "/", timeoutMs = SYNC_TIMEOUT_MS) {
  let service: Fetcher;
  let options: ReturnType<typeof callOptions>;
  try {
    service = serviceBinding(env, config, binding);
    options = callOptions(env, config);
  } catch (e) {
    throw new HttpError(400, (e as { code?: string }).code ?? "invalid_request", (e as Error).message);
  }
  // The host is never resolved: the binding carries the request. It names the binding in the app's register body.
  const url = `https://${binding.toLowerCase()}.service${path}`;
  const body = canonicalJson({ url });
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "x-inngest-sync-kind": "in_band",
    // A binding's request carries no Host of its own; the inngest SDK's Workers adapter builds its URL from one.
    host: new URL(url).host,
    "x-inngest-server-kind": options.signingKey ? "cloud" : "dev",
  };
  if (options.signingKey) headers["x-inngest-signature"] = await signatureHeader(body, options.signingKey);
  let res: Response;
  let text: string;
  try {
    res = await service.fetch(url, { method: "PUT", headers, body, signal: AbortSignal.timeout(timeoutMs) });
    text = await res.text();
  } catch (e) {
    throw new HttpError(502, "app_unreachable", `asking service ${binding} to sync failed: ${(e as Error).message}`);
  }
  if (res.status === 401) {
    throw new HttpError(403, "remote_unauthorized", `service ${binding} refused the engine's request: they must share one signing key`);
  }
  if (!res.ok) {
    const message = String((safeJson(text) as { message?: unknown } | undefined)?.message ?? text.slice(0, 500));
    throw new HttpError(502, "app_sync_failed", `service ${binding} answered HTTP ${res.status}: ${message}`);
  }
  if (options.signingKey && !(await verifySignature(res.headers.get("x-inngest-signature"), text, options.signingKey))) {
    throw new HttpError(403, "remote_signature_invalid", `the answer from service ${binding} has no valid X-Inngest-Signature`);
  }
  const inBand = inBandSchema.safeParse(safeJson(text));
  if (res.headers.get("x-inngest-sync-kind") !== "in_band" || !inBand.success) {
    throw new HttpError(502, "app_sync_failed", `service ${binding} did not answer an in-band sync with its functions`);
  }
  const parsed = registerBody.safeParse({
    url: inBand.data.url,
    appName: inBand.data.app_id,
    ...(inBand.data.sdk ? { sdk: inBand.data.sdk } : {}),
    functions: inBand.data.functions,
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new HttpError(400, "invalid_register", `${issue?.path.join(".") || "(body)"}: ${issue?.message}`);
  }
  const app = parsed.data;
  const functions = definitionsOf(app).map((f) => ({
    id: f.id,
    definition: JSON.stringify({ ...f.definition, target: { ...f.definition.target, binding } }),
  }));
  const ids = functions.map((f) => f.id);
  const local = ids.find((id) => config.registry.get(id));
  if (local) throw new HttpError(409, "function_id_taken", `the engine serves a function ${JSON.stringify(local)} itself`);
  const [taken] = await functionsOfOtherApps(env.DB, app.appName, ids);
  if (taken)
    throw new HttpError(409, "function_id_taken", `app ${JSON.stringify(taken.app_id)} serves a function ${JSON.stringify(taken.id)}`);
  const syncedAt = Date.now();
  await saveRemoteApp(env.DB, { id: app.appName, url: app.url, sdk: app.sdk ?? null, syncedAt }, functions);
  config.remote.forget();
  return { id: app.appName, service: binding, url: app.url, syncedAt, functions: ids };
}

/**
 * `POST /api/v1/apps` with `{ service, path? }`: syncs the Worker behind
 * that service binding. A middleware in front of the route, so the route
 * stays one: any other request goes on to it (the sync by URL).
 */
export function serviceSync(config: EngineConfig): MiddlewareHandler<{ Bindings: Env }> {
  return async (c, next) => {
    if (c.req.method !== "POST") return next();
    // A copy: the body stays unread for the apps route when it is not a service sync.
    const body: unknown = await c.req.raw
      .clone()
      .json()
      .catch(() => undefined);
    if (typeof body !== "object" || body === null || !("service" in body)) return next();
    const parsed = syncSchema.safeParse(body);
    if (!parsed.success) {
      throw new HttpError(400, "invalid_request", "the body is { service, path? }: a service binding's name, and where serve() answers");
    }
    const app = await syncService(c.env, config, parsed.data.service, parsed.data.path);
    return c.json({ synced: true, apps: [app] });
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
