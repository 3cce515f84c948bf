import { Hono } from "hono";
import { z } from "zod";
import { DEFAULT_RETRIES, type FunctionConfig, MAX_RETRIES } from "../../sdk/function";
import type { EngineConfig } from "../config";
import { functionsOfOtherApps, saveRemoteApp } from "../d1/remote";
import { type Env, isDevMode } from "../env";
import { secretEquals } from "../ingest/event-keys";
import { HttpError } from "../shared/http-error";
import { signingKeys } from "./keys";
import { engineEventName } from "./protocol";
import { type RemoteDefinition, remoteFunction } from "./registry";
import { hashedSigningKey } from "./signature";
import { type RunOptions, remoteTargetSchema } from "./target";

/** The SDK's register call (`registerBody` in its comm handler), read leniently: unknown fields are the SDK's own. */
export const registerBody = z
  .object({
    url: z.url({ protocol: /^https?$/ }),
    appName: z.string().min(1).max(256),
    sdk: z.string().max(128).optional(),
    functions: z
      .array(
        z
          .object({
            id: z.string().min(1).max(256),
            name: z.string().optional(),
            triggers: z.array(z.object({ event: z.string().optional(), expression: z.string().optional(), cron: z.string().optional() })),
            cancel: z.array(z.object({ event: z.string(), if: z.string().optional(), timeout: z.string().optional() })).optional(),
            timeouts: z.object({ start: z.string().optional(), finish: z.string().optional() }).optional(),
            concurrency: z.unknown().optional(),
            rateLimit: z.unknown().optional(),
            debounce: z.unknown().optional(),
            batchEvents: z.record(z.string(), z.unknown()).optional(),
            idempotency: z.unknown().optional(),
            singleton: z.unknown().optional(),
            throttle: z.unknown().optional(),
            priority: z.unknown().optional(),
            steps: z.record(
              z.string(),
              z
                .object({
                  runtime: z.object({ url: z.string() }).loose(),
                  retries: z.object({ attempts: z.number().optional() }).optional(),
                })
                .loose(),
            ),
          })
          .loose(),
      )
      .max(1000),
  })
  .loose();

type RegisterBody = z.infer<typeof registerBody>;

/** The function definitions of one register call, in Stepflare's form; a function whose config does not hold refuses the sync. */
export function definitionsOf(body: RegisterBody): { id: string; definition: RemoteDefinition }[] {
  return body.functions.map((fn) => {
    const step = fn.steps.step ?? Object.values(fn.steps)[0];
    if (!step) throw new HttpError(400, "invalid_function", `function ${JSON.stringify(fn.id)} has no step to call`);
    const attempts = step.retries?.attempts;
    // The options the engine applies: at fan-out (the registry's config), and in the run (kept with the target below).
    const options = {
      ...(fn.rateLimit !== undefined ? { rateLimit: fn.rateLimit } : {}),
      ...(fn.debounce !== undefined ? { debounce: fn.debounce } : {}),
      ...(fn.batchEvents !== undefined ? { batchEvents: fn.batchEvents } : {}),
      ...(fn.idempotency !== undefined ? { idempotency: fn.idempotency } : {}),
      ...(fn.singleton !== undefined ? { singleton: fn.singleton } : {}),
      ...(fn.cancel?.length ? { cancelOn: fn.cancel.map((c) => ({ ...c, event: engineEventName(c.event) })) } : {}),
      ...(fn.timeouts ? { timeouts: fn.timeouts } : {}),
      ...(fn.concurrency !== undefined ? { concurrency: withoutAccountScope(fn.concurrency) } : {}),
      ...(fn.throttle !== undefined ? { throttle: fn.throttle } : {}),
      ...(fn.priority !== undefined ? { priority: fn.priority } : {}),
    };
    const definition: RemoteDefinition = {
      ...(fn.name ? { name: fn.name } : {}),
      ...(Object.keys(options).length > 0 ? { options } : {}),
      triggers: fn.triggers.map((t) =>
        t.cron !== undefined ? { cron: t.cron } : { event: engineEventName(t.event ?? ""), ...(t.expression ? { if: t.expression } : {}) },
      ),
      target: {
        appId: body.appName,
        url: step.runtime.url,
        slug: fn.id,
        retries: attempts === undefined ? DEFAULT_RETRIES : Math.min(MAX_RETRIES, Math.max(0, Math.trunc(attempts))),
      },
    };
    if (!remoteTargetSchema.safeParse(definition.target).success) {
      throw new HttpError(400, "invalid_function", `function ${JSON.stringify(fn.id)}: its step URL is not an http(s) URL`);
    }
    let config: FunctionConfig;
    try {
      config = remoteFunction(fn.id, definition).config;
    } catch (e) {
      const code = (e as { code?: string }).code ?? "invalid_function";
      throw new HttpError(400, code, (e as Error).message);
    }
    // A run applies these itself, parsed as the engine parses its own (durations in ms).
    const { cancelOn, timeouts, concurrency, throttle, priority } = config;
    const parsed: RunOptions = Object.fromEntries(
      Object.entries({ cancelOn, timeouts, concurrency, throttle, priority }).filter(([, v]) => v !== undefined),
    );
    if (Object.keys(parsed).length > 0) definition.target.options = parsed;
    return { id: fn.id, definition };
  });
}

/** Inngest's `account` scope shares a limit across an account; the nearest the engine has is `env`, across its functions. */
function withoutAccountScope(concurrency: unknown): unknown {
  const one = (c: unknown) =>
    typeof c === "object" && c !== null && (c as { scope?: unknown }).scope === "account" ? { ...c, scope: "env" } : c;
  return Array.isArray(concurrency) ? concurrency.map(one) : one(concurrency);
}

/**
 * Whether the register call carries the key the SDK would send: `Bearer` of
 * the hashed signing key (or the fallback). With no key set, only dev mode
 * accepts a sync.
 */
async function checkRegisterAuth(env: Env, config: EngineConfig, authorization: string | undefined): Promise<void> {
  const keys = signingKeys(env, config);
  const given = /^bearer (.*)$/i.exec(authorization ?? "")?.[1]?.trim() ?? "";
  if (!keys.primary) {
    if (isDevMode(env)) return;
    throw new HttpError(401, "signing_key_missing", "this engine has no Inngest signing key: set the secret INNGEST_SIGNING_KEY");
  }
  for (const key of [keys.primary, keys.fallback]) {
    if (key && given && (await secretEquals(await hashedSigningKey(key), given))) return;
  }
  throw new HttpError(401, "invalid_signing_key", "the register call's signing key is not this engine's");
}

/**
 * `POST /fn/register`: an app's SDK syncs its functions, as to Inngest's
 * dev server. The app and its functions are stored in D1, replacing those
 * of its last sync. Errors answer in the shape the SDK reads (`error` a
 * string, led by the code) and in Stepflare's (`code`).
 */
export function registerRoutes(config: EngineConfig) {
  return new Hono<{ Bindings: Env }>().post("/register", async (c) => {
    try {
      await checkRegisterAuth(c.env, config, c.req.header("authorization"));
      const parsed = registerBody.safeParse(await c.req.json().catch(() => undefined));
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new HttpError(400, "invalid_register", `${issue?.path.join(".") || "(body)"}: ${issue?.message}`);
      }
      const body = parsed.data;
      const functions = definitionsOf(body);
      const ids = functions.map((f) => f.id);
      const local = ids.find((id) => config.registry.get(id));
      if (local) throw new HttpError(409, "function_id_taken", `the engine serves a function ${JSON.stringify(local)} itself`);
      const taken = await functionsOfOtherApps(c.env.DB, body.appName, ids);
      if (taken[0]) {
        throw new HttpError(
          409,
          "function_id_taken",
          `app ${JSON.stringify(taken[0].app_id)} serves a function ${JSON.stringify(taken[0].id)}`,
        );
      }
      await saveRemoteApp(
        c.env.DB,
        { id: body.appName, url: body.url, sdk: body.sdk ?? null, syncedAt: Date.now() },
        functions.map((f) => ({ id: f.id, definition: JSON.stringify(f.definition) })),
      );
      config.remote.forget();
      return c.json({ ok: true, modified: true, app: body.appName, functions: ids });
    } catch (e) {
      if (!(e instanceof HttpError)) throw e;
      return c.json({ status: e.status, error: `${e.code}: ${e.message}`, code: e.code }, e.status);
    }
  });
}
