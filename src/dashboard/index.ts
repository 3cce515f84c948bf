import { Hono } from "hono";
import type { ManagementApi } from "../app";
import type { EngineConfig } from "../config";
import { type DashboardEnv, requireSession } from "./access";
import { actionRoutes } from "./actions";
import { assetRoutes } from "./assets";
import { loginRoutes } from "./login";
import { pageRoutes } from "./pages-routes";

/**
 * The dashboard at /dashboard: server-rendered pages over the management
 * API, open in dev mode, otherwise behind a session that the API key opens.
 * Its stylesheet and script are served from here, so it needs no network.
 */
export function dashboardRoutes(config: EngineConfig, api: ManagementApi) {
  return new Hono<DashboardEnv>()
    .route("/assets", assetRoutes)
    .route("/", loginRoutes)
    .use("*", requireSession)
    .route("/", actionRoutes(config, api))
    .route("/", pageRoutes(config, api));
}
