import type { MiddlewareHandler } from "hono";
import { type Env, isDevMode } from "../env";
import { secretEquals } from "../ingest/event-keys";
import { HttpError } from "../shared/http-error";

/**
 * Guards /api/v1: open in dev mode; otherwise `Authorization: Bearer <API_KEY>`.
 * With no API_KEY configured outside dev mode, every call is refused. It
 * answers the 401 itself rather than throwing, so it also guards routes of
 * an app that does not render Stepflare's errors (the example's own routes).
 *
 * @example
 * new Hono<{ Bindings: Env }>().use("/admin/*", requireApiKey).route("/admin", adminRoutes);
 */
export const requireApiKey: MiddlewareHandler<{ Bindings: Env }> = async (c, next) => {
  if (!isDevMode(c.env)) {
    // The scheme is case-insensitive (RFC 9110, section 11.1): `bearer <key>` is as good as `Bearer <key>`.
    const given = /^bearer (.*)$/i.exec(c.req.header("authorization") ?? "")?.[1]?.trim() ?? "";
    const key = c.env.API_KEY;
    if (!key || !given || !(await secretEquals(key, given))) {
      const refused = new HttpError(401, "unauthorized", "a valid API key is required: Authorization: Bearer <key>");
      return c.json(refused.toJSON(), refused.status);
    }
  }
  await next();
};
