import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { DashboardEnv } from "./access";

/** Answers a page: the doctype, the rendered JSX, and headers that keep it from being framed, cached or sniffed. */
export async function page(c: Context<DashboardEnv>, body: unknown, status: ContentfulStatusCode = 200): Promise<Response> {
  const html = `<!DOCTYPE html>${await body}`;
  return c.html(html, status, PAGE_HEADERS);
}

export const PAGE_HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "same-origin",
  "cache-control": "no-store",
};
