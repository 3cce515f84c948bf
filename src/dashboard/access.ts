import type { Context, MiddlewareHandler } from "hono";
import { getCookie } from "hono/cookie";
import { type Env, isDevMode } from "../env";
import { csrfToken, csrfValid, SESSION_COOKIE, sameOrigin, sessionValid } from "./session";

export interface DashboardVars {
  /** The token this session's forms carry. */
  csrf: string;
  /** Whether a session (not dev mode) let the request in: the layout then offers to log out. */
  session: boolean;
}

export type DashboardEnv = { Bindings: Env; Variables: DashboardVars };

/** The session cookie's value, when it is a live session for the configured key. */
export async function currentSession(c: Context<DashboardEnv>): Promise<string | undefined> {
  const key = c.env.API_KEY;
  const token = getCookie(c, SESSION_COOKIE);
  return key && token && (await sessionValid(key, token)) ? token : undefined;
}

/**
 * Lets a request in: always in dev mode, otherwise with a live session (a
 * page without one is sent to the login form, an action refused). Every
 * POST must also come from this origin and carry the session's CSRF token.
 */
export const requireSession: MiddlewareHandler<DashboardEnv> = async (c, next) => {
  const dev = isDevMode(c.env);
  const session = dev ? undefined : await currentSession(c);
  if (!dev && !session) {
    if (c.req.method === "GET" || c.req.method === "HEAD") {
      const next = new URL(c.req.url);
      return c.redirect(`/dashboard/login?next=${encodeURIComponent(next.pathname + next.search)}`, 303);
    }
    return c.text("Log in to the dashboard first.", 401);
  }
  const key = dev ? undefined : c.env.API_KEY;
  if (c.req.method !== "GET" && c.req.method !== "HEAD") {
    if (!sameOrigin(c.req.url, c.req.raw.headers)) return c.text("Cross-site request refused.", 403);
    const form = await c.req.parseBody();
    const token = typeof form._csrf === "string" ? form._csrf : "";
    if (!(await csrfValid(key, session, token))) return c.text("Missing or stale form token: reload the page and try again.", 403);
  }
  c.set("csrf", await csrfToken(key, session));
  c.set("session", !dev);
  await next();
};
