import { Hono } from "hono";
import type { ManagementApi } from "../app";
import type { EngineConfig } from "../config";
import type { RunDetail } from "../run/detail";
import { isTerminal, type RunStatus } from "../run/types";
import type { DashboardEnv } from "./access";
import { callApi, query } from "./api-client";
import { deadLettersPageQuery, eventsPageQuery, normalizeTime, runPageQuery, runsPageQuery, ULID } from "./filters";
import { ErrorBox, Layout } from "./layout";
import { type DeadLetter, DeadLettersPage } from "./pages/dead-letters";
import { type EventDetail, EventPage, type EventSummary, EventsPage } from "./pages/events";
import { FunctionsPage, type FunctionView } from "./pages/functions";
import { RunPage } from "./pages/run";
import { type RunSummary, RunsPage } from "./pages/runs";
import { page } from "./render";

/** How often a page that is still changing fetches itself again. */
const LIVE_MS = 1500;

type Page<T> = { body?: T; error?: { code: string; message: string } };
const read = <T,>(a: Awaited<ReturnType<typeof callApi<T>>>): Page<T> =>
  a.ok ? { body: a.body } : { error: { code: a.code, message: a.message } };

/** The dashboard's pages, each reading the management API in-process. */
export function pageRoutes(config: EngineConfig, api: ManagementApi) {
  const functionIds = config.registry.all().map((fn) => fn.config.id);
  return new Hono<DashboardEnv>()
    .get("/", (c) => c.redirect("/dashboard/runs", 303))
    .get("/functions", async (c) => {
      const r = read(await callApi<{ functions: FunctionView[] }>(api, c, "/functions"));
      return page(
        c,
        <Layout title="Functions" nav="functions" csrf={c.var.csrf} session={c.var.session}>
          <FunctionsPage functions={r.body?.functions ?? []} {...(r.error ? { error: r.error } : {})} />
        </Layout>,
      );
    })
    .get("/runs", async (c) => {
      const q = runsPageQuery.parse(c.req.query());
      const filter = { functionId: q.functionId, status: q.status, since: normalizeTime(q.since), until: normalizeTime(q.until) };
      const r = read(
        await callApi<{ runs: RunSummary[]; nextCursor: string | null }>(
          api,
          c,
          `/runs${query({ ...filter, cursor: q.cursor, limit: "50" })}`,
        ),
      );
      const shown = { functionId: q.functionId, status: q.status, since: q.since, until: q.until };
      const next = r.body?.nextCursor;
      return page(
        c,
        <Layout title="Runs" nav="runs" csrf={c.var.csrf} session={c.var.session} {...(q.cursor ? {} : { live: LIVE_MS })}>
          <RunsPage
            filter={shown}
            functionIds={functionIds}
            runs={r.body?.runs ?? []}
            {...(next ? { nextHref: `/dashboard/runs${query({ ...shown, cursor: next })}` } : {})}
            {...(q.cursor ? { firstHref: `/dashboard/runs${query(shown)}` } : {})}
            {...(r.error ? { error: r.error } : {})}
          />
        </Layout>,
      );
    })
    .get("/runs/:runId", async (c) => {
      const runId = c.req.param("runId");
      const q = runPageQuery.parse(c.req.query());
      const r = await callApi<RunDetail>(api, c, `/runs/${encodeURIComponent(runId)}`);
      if (!r.ok) return notFound(c, r);
      // A skipped run (flow control) has ended too, though runs of its own never take that status.
      const status: string = r.body.status;
      const live = status !== "skipped" && !isTerminal(status as RunStatus);
      return page(
        c,
        <Layout title={`Run ${runId}`} nav="runs" csrf={c.var.csrf} session={c.var.session} {...(live ? { live: LIVE_MS } : {})}>
          <RunPage
            run={r.body}
            stepsPage={q.steps}
            csrf={c.var.csrf}
            now={Date.now()}
            {...(q.replayed ? { notice: `Replayed from ${q.replayed === "start" ? "the start" : "the failed step"}.` } : {})}
            {...(q.cancelled ? { notice: q.cancelled === "already" ? "The run was already cancelled." : "Cancelled." } : {})}
          />
        </Layout>,
      );
    })
    .get("/events", async (c) => {
      const q = eventsPageQuery.parse(c.req.query());
      const term = q.q?.trim() ?? "";
      if (ULID.test(term)) {
        const found = await callApi<EventDetail>(api, c, `/events/${term}`);
        if (found.ok) return c.redirect(`/dashboard/events/${term}`, 303);
      }
      const r = read(
        await callApi<{ events: EventSummary[]; nextCursor: string | null }>(
          api,
          c,
          `/events${query({ name: term, cursor: q.cursor, limit: "50" })}`,
        ),
      );
      const next = r.body?.nextCursor;
      return page(
        c,
        <Layout title="Events" nav="events" csrf={c.var.csrf} session={c.var.session} {...(q.cursor ? {} : { live: LIVE_MS })}>
          <EventsPage
            q={term}
            events={r.body?.events ?? []}
            {...(next ? { nextHref: `/dashboard/events${query({ q: term, cursor: next })}` } : {})}
            {...(q.cursor ? { firstHref: `/dashboard/events${query({ q: term })}` } : {})}
            {...(r.error ? { error: r.error } : {})}
          />
        </Layout>,
      );
    })
    .get("/events/:eventId", async (c) => {
      const r = await callApi<EventDetail>(api, c, `/events/${encodeURIComponent(c.req.param("eventId"))}`);
      if (!r.ok) return notFound(c, r);
      return page(
        c,
        <Layout title={`Event ${r.body.event.id}`} nav="events" csrf={c.var.csrf} session={c.var.session}>
          <EventPage detail={r.body} />
        </Layout>,
      );
    })
    .get("/dead-letters", async (c) => {
      const q = deadLettersPageQuery.parse(c.req.query());
      const shown = { functionId: q.functionId, code: q.code, since: q.since, until: q.until };
      const filter = { ...shown, since: normalizeTime(q.since), until: normalizeTime(q.until) };
      const r = read(
        await callApi<{ deadLetters: DeadLetter[]; nextCursor: string | null }>(
          api,
          c,
          `/dead-letters${query({ ...filter, cursor: q.cursor, limit: "50" })}`,
        ),
      );
      const next = r.body?.nextCursor;
      return page(
        c,
        <Layout title="Dead letters" nav="dead-letters" csrf={c.var.csrf} session={c.var.session}>
          <DeadLettersPage
            filter={shown}
            functionIds={functionIds}
            letters={r.body?.deadLetters ?? []}
            csrf={c.var.csrf}
            {...(next ? { nextHref: `/dashboard/dead-letters${query({ ...shown, cursor: next })}` } : {})}
            {...(q.cursor ? { firstHref: `/dashboard/dead-letters${query(shown)}` } : {})}
            {...(r.error ? { error: r.error } : {})}
          />
        </Layout>,
      );
    })
    .all("*", (c) => notFound(c, { status: 404, code: "not_found", message: "no such dashboard page" }));
}

function notFound(c: Parameters<typeof page>[0], r: { status: number; code: string; message: string }) {
  return page(
    c,
    <Layout title="Not found" nav="runs" csrf={c.var.csrf} session={c.var.session}>
      <ErrorBox code={r.code} message={r.message} />
    </Layout>,
    r.status === 404 ? 404 : 502,
  );
}
