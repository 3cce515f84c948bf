import { Hono } from "hono";
import { deleteCookie, setCookie } from "hono/cookie";
import { z } from "zod";
import { isDevMode } from "../env";
import { secretEquals } from "../ingest/event-keys";
import { type DashboardEnv, requireSession } from "./access";
import { Layout } from "./layout";
import { LoginPage } from "./pages/login";
import { page } from "./render";
import { issueSession, SESSION_COOKIE, SESSION_MS, sameOrigin } from "./session";

const COOKIE = { path: "/dashboard", httpOnly: true, secure: true, sameSite: "Strict" } as const;

// Where to go after logging in: a dashboard path only, never another site.
const nextPath = z
  .string()
  .max(2048)
  .regex(/^\/dashboard(\/[^\\]*)?(\?.*)?$/)
  .refine((p) => !p.startsWith("//"))
  .catch("/dashboard");

const loginForm = z.object({ key: z.string().max(4096).catch(""), next: nextPath });

const loginPage = (c: Parameters<typeof page>[0], next: string, failed?: string) =>
  page(
    c,
    <Layout title="Log in" nav="login">
      <LoginPage next={next} {...(failed ? { failed } : {})} />
    </Layout>,
    failed ? 401 : 200,
  );

/** The login form, which turns the API key into a session cookie, and logging out. */
export const loginRoutes = new Hono<DashboardEnv>()
  .get("/login", (c) => (isDevMode(c.env) ? c.redirect("/dashboard", 303) : loginPage(c, nextPath.parse(c.req.query("next")))))
  .post("/login", async (c) => {
    if (!sameOrigin(c.req.url, c.req.raw.headers)) return c.text("Cross-site request refused.", 403);
    const form = loginForm.parse(await c.req.parseBody());
    const key = c.env.API_KEY;
    if (!key) return loginPage(c, form.next, "This engine has no API_KEY set, so the dashboard is closed.");
    if (!form.key || !(await secretEquals(key, form.key))) return loginPage(c, form.next, "That is not the API key.");
    setCookie(c, SESSION_COOKIE, await issueSession(key), { ...COOKIE, maxAge: SESSION_MS / 1000 });
    return c.redirect(form.next, 303);
  })
  .post("/logout", requireSession, (c) => {
    deleteCookie(c, SESSION_COOKIE, COOKIE);
    return c.redirect("/dashboard/login", 303);
  });
