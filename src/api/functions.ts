import { Hono } from "hono";
import { wellFormedHead } from "../../sdk/internal";
import type { EngineConfig } from "../config";
import { pausedFunctions, pauseFunction, resumeFunction } from "../d1/pauses";
import type { Env } from "../env";
import { runCountsByFunction } from "../listing/store";
import { isRemote } from "../remote/registry";
import { HttpError } from "../shared/http-error";
import { RUN_STATUSES } from "./schemas";

/**
 * `GET /api/v1/functions`: this engine's functions, their triggers and
 * config, their runs by status and whether they are paused; and
 * `POST /api/v1/functions/:functionId/pause` and `/resume`.
 */
export const functionsApi = (config: EngineConfig) => {
  const known = async (db: D1Database, functionId: string) => {
    if (!config.registry.get(functionId) && !(await config.remote.registry(db)).get(functionId)) {
      throw new HttpError(404, "function_not_found", `no function with id ${JSON.stringify(wellFormedHead(functionId, 128))}`);
    }
    return functionId;
  };
  return new Hono<{ Bindings: Env }>()
    .get("/", async (c) => {
      const [counts, paused] = await Promise.all([runCountsByFunction(c.env), pausedFunctions(c.env.DB)]);
      const remote = await config.remote.registry(c.env.DB);
      const functions = [...config.registry.all(), ...remote.all()].map((fn) => {
        const found = counts.get(fn.config.id) ?? {};
        const pausedAt = paused.get(fn.config.id);
        return {
          id: fn.config.id,
          ...(fn.config.name ? { name: fn.config.name } : {}),
          triggers: fn.config.triggers,
          retries: fn.config.retries,
          onFailure: fn.onFailure !== undefined,
          ...(isRemote(fn) ? { remote: true, app: fn.remote.appId, ...(fn.remote.binding ? { service: fn.remote.binding } : {}) } : {}),
          runs: Object.fromEntries(RUN_STATUSES.map((s) => [s, found[s] ?? 0])),
          paused: pausedAt !== undefined,
          ...(pausedAt !== undefined ? { pausedAt } : {}),
        };
      });
      return c.json({ functions });
    })
    .post("/:functionId/pause", async (c) => {
      const id = await known(c.env.DB, c.req.param("functionId"));
      const pausedAt = await pauseFunction(c.env.DB, id, Date.now());
      return c.json({ id, paused: true, pausedAt });
    })
    .post("/:functionId/resume", async (c) => {
      const id = await known(c.env.DB, c.req.param("functionId"));
      await resumeFunction(c.env.DB, id);
      return c.json({ id, paused: false });
    });
};
