import { Hono } from "hono";
import { z } from "zod";
import { wellFormedHead } from "../../sdk/internal";
import type { EngineConfig } from "../config";
import { loadRemoteApps, loadRemoteFunctions, removeRemoteApp } from "../d1/remote";
import type { Env } from "../env";
import { HttpError } from "../shared/http-error";
import { issueText, readJsonBody } from "./query";

/** `POST /api/v1/apps`: the app's serve URL, where its SDK answers a `PUT` by syncing. */
export const syncAppBody = z.strictObject({
  url: z
    .url({ protocol: /^https?$/ })
    .max(2048)
    .meta({ description: "the app's serve URL, such as http://localhost:3000/api/inngest" }),
});

/** How long the app may take to answer the sync (it calls the engine's /fn/register meanwhile). */
const SYNC_TIMEOUT_MS = 30_000;

/**
 * `GET /api/v1/apps`: the apps synced over the Inngest protocol, with their
 * functions. `POST /api/v1/apps` with `{ url }`: asks the app at its serve
 * URL to sync (a `PUT`, as Inngest's dev server does); the app's SDK then
 * calls `/fn/register`, and this answers once it has. `POST
 * /api/v1/apps/:appId/remove`: forgets an app and its functions.
 */
export const appsApi = (config: EngineConfig) =>
  new Hono<{ Bindings: Env }>()
    .get("/", async (c) => {
      const [apps, functions] = await Promise.all([loadRemoteApps(c.env.DB), loadRemoteFunctions(c.env.DB)]);
      return c.json({
        apps: apps.map((a) => ({
          id: a.id,
          url: a.url,
          ...(a.sdk ? { sdk: a.sdk } : {}),
          syncedAt: Number(a.synced_at),
          functions: functions.filter((f) => f.app_id === a.id).map((f) => f.id),
        })),
      });
    })
    .post("/", async (c) => {
      const parsed = syncAppBody.safeParse(await readJsonBody(c.req.raw));
      if (!parsed.success) {
        throw new HttpError(400, "invalid_request", issueText(parsed.error.issues[0], "body", "not a field of this request"));
      }
      const url = parsed.data.url;
      let res: Response;
      let text: string;
      try {
        res = await fetch(url, { method: "PUT", signal: AbortSignal.timeout(SYNC_TIMEOUT_MS) });
        text = await res.text();
      } catch (e) {
        throw new HttpError(502, "app_unreachable", `asking ${new URL(url).origin} to sync failed: ${(e as Error).message}`);
      }
      // The SDK answers { message, modified }, its message the register call's `error`: "<code>: <message>" when Stepflare refused it.
      const message = String((safeJson(text) as { message?: unknown } | undefined)?.message ?? text.slice(0, 500));
      if (!res.ok) {
        const code = /^([a-z_]+): /.exec(message)?.[1] ?? "app_sync_failed";
        // A refused register call is the app's key against the engine's: 403, not the 401 of this API's own key.
        const status = res.status === 401 || res.status === 403 ? 403 : res.status >= 400 && res.status < 500 ? 400 : 502;
        throw new HttpError(status, code, message.replace(/^[a-z_]+: /, ""));
      }
      const apps = (await loadRemoteApps(c.env.DB)).filter((a) => a.url === url || a.url.split("?")[0] === url.split("?")[0]);
      return c.json({ synced: true, apps: apps.map((a) => ({ id: a.id, url: a.url, syncedAt: Number(a.synced_at) })) });
    })
    // Runs already going keep calling the app; new events start none of its functions.
    .post("/:appId/remove", async (c) => {
      const appId = c.req.param("appId");
      if (!(await removeRemoteApp(c.env.DB, appId))) {
        throw new HttpError(404, "app_not_found", `no app with id ${JSON.stringify(wellFormedHead(appId, 128))}`);
      }
      config.remote.forget();
      return c.json({ id: appId, removed: true });
    });

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
