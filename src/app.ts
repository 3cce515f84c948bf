import { Hono } from "hono";
import { requireApiKey } from "./api/auth";
import { deadLettersApi } from "./api/dead-letters";
import { eventsApi } from "./api/events";
import { openApiDocument } from "./api/openapi";
import { runsApi } from "./api/runs";
import type { EngineConfig } from "./config";
import type { Env } from "./env";
import { ingestRoutes } from "./ingest/routes";
import { HttpError } from "./shared/http-error";

/** The engine's HTTP surface: event ingest and the management API. */
export function buildApp(config: EngineConfig) {
  const app = new Hono<{ Bindings: Env }>();
  app.route("/e", ingestRoutes(config));
  app.use("/api/v1/*", requireApiKey);
  app.route("/api/v1/runs", runsApi);
  app.route("/api/v1/events", eventsApi);
  app.route("/api/v1/dead-letters", deadLettersApi);
  // Public, outside /api/v1: the document holds shapes and limits, no secrets. Built once, on first ask.
  let openApi: Record<string, unknown> | undefined;
  app.get("/api/openapi.json", (c) => c.json((openApi ??= openApiDocument(config))));
  app.get("/", (c) => c.json({ name: "stepflare", functions: config.registry.size }));
  app.notFound(() => {
    throw new HttpError(404, "not_found", "no such route");
  });
  app.onError((err, c) => {
    if (err instanceof HttpError) return c.json(err.toJSON(), err.status);
    console.error("stepflare: unhandled error:", err instanceof Error ? err.message : String(err));
    return c.json({ error: { code: "internal_error", message: "internal error" } }, 500);
  });
  return app;
}
