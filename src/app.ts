import { Hono } from "hono";
import { appsApi } from "./api/apps";
import { requireApiKey } from "./api/auth";
import { cancellationsApi } from "./api/cancellations";
import { deadLettersApi } from "./api/dead-letters";
import { eventListApi } from "./api/event-list";
import { eventsApi } from "./api/events";
import { functionsApi } from "./api/functions";
import { openApiDocument } from "./api/openapi";
import { runsApi } from "./api/runs";
import type { EngineConfig } from "./config";
import { dashboardRoutes } from "./dashboard";
import type { Env } from "./env";
import { ingestRoutes } from "./ingest/routes";
import { registerRoutes } from "./remote/register";
import { serviceSync } from "./remote/services";
import { HttpError } from "./shared/http-error";

const notFound = () => {
  throw new HttpError(404, "not_found", "no such route");
};

function renderError(err: Error, c: { json: (body: unknown, status: HttpError["status"]) => Response }): Response {
  if (err instanceof HttpError) return c.json(err.toJSON(), err.status);
  console.error("stepflare: unhandled error:", err instanceof Error ? err.message : String(err));
  return c.json({ error: { code: "internal_error", message: "internal error" } }, 500);
}

/** The management API, unguarded: mounted at /api/v1 behind the key, and called in-process by the dashboard. */
export function buildApi(config: EngineConfig) {
  const api = new Hono<{ Bindings: Env }>();
  api.route("/functions", functionsApi(config));
  api.use("/apps", serviceSync(config));
  api.route("/apps", appsApi(config));
  api.route("/runs", runsApi());
  api.route("/events", eventListApi);
  api.route("/events", eventsApi);
  api.route("/dead-letters", deadLettersApi);
  api.route("/cancellations", cancellationsApi);
  api.notFound(notFound);
  api.onError(renderError);
  return api;
}

export type ManagementApi = ReturnType<typeof buildApi>;

/** The engine's HTTP surface: event ingest, the management API and the dashboard. */
export function buildApp(config: EngineConfig) {
  const app = new Hono<{ Bindings: Env }>();
  const api = buildApi(config);
  app.route("/e", ingestRoutes(config));
  // The `inngest` SDK's register call: authenticated by the signing key, not the API key.
  app.route("/fn", registerRoutes(config));
  app.use("/api/v1/*", requireApiKey);
  app.route("/api/v1", api);
  // Public, outside /api/v1: the document holds shapes and limits, no secrets. Built once, on first ask.
  let openApi: Record<string, unknown> | undefined;
  app.get("/api/openapi.json", (c) => c.json((openApi ??= openApiDocument(config))));
  app.route("/dashboard", dashboardRoutes(config, api));
  app.get("/", (c) => c.json({ name: "stepflare", functions: config.registry.size }));
  app.notFound(notFound);
  app.onError(renderError);
  return app;
}
