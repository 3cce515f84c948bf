import type { Context } from "hono";
import type { ManagementApi } from "../app";
import type { DashboardEnv } from "./access";

/** An answer of the management API: its JSON, or its error. */
export type ApiAnswer<T> = { ok: true; body: T } | { ok: false; status: number; code: string; message: string };

/**
 * Calls the management API in-process (no network, no key: the dashboard has
 * already let the request in), so every page reads exactly what
 * `/api/v1` answers, with its validation, cursors and errors.
 */
export async function callApi<T>(
  api: ManagementApi,
  c: Context<DashboardEnv>,
  path: string,
  init: { method?: string; json?: unknown } = {},
): Promise<ApiAnswer<T>> {
  const res = await api.request(
    `http://stepflare.internal${path}`,
    {
      method: init.method ?? "GET",
      ...(init.json === undefined ? {} : { body: JSON.stringify(init.json), headers: { "content-type": "application/json" } }),
    },
    c.env,
    c.executionCtx,
  );
  const body = (await res.json()) as T & { error?: { code: string; message: string } };
  if (res.ok) return { ok: true, body };
  return { ok: false, status: res.status, code: body.error?.code ?? "error", message: body.error?.message ?? res.statusText };
}

/** A query string of the given parameters, leaving out empty ones. */
export function query(params: Record<string, string | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") q.set(k, v);
  const text = q.toString();
  return text ? `?${text}` : "";
}
