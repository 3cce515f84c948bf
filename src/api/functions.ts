import { Hono } from "hono";
import type { EngineConfig } from "../config";
import { runCountsByFunction } from "../d1/listing";
import type { Env } from "../env";
import { RUN_STATUSES } from "./schemas";

/** `GET /api/v1/functions`: this engine's functions, their triggers and config, and their runs by status. */
export const functionsApi = (config: EngineConfig) =>
  new Hono<{ Bindings: Env }>().get("/", async (c) => {
    const counts = await runCountsByFunction(c.env.DB);
    const functions = config.registry.all().map((fn) => {
      const found = counts.get(fn.config.id) ?? {};
      return {
        id: fn.config.id,
        ...(fn.config.name ? { name: fn.config.name } : {}),
        triggers: fn.config.triggers,
        retries: fn.config.retries,
        onFailure: fn.onFailure !== undefined,
        runs: Object.fromEntries(RUN_STATUSES.map((s) => [s, found[s] ?? 0])),
      };
    });
    return c.json({ functions });
  });
