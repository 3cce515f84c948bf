import { Hono } from "hono";
import { z } from "zod";
import { parseInstant } from "../api/instant";
import type { ManagementApi } from "../app";
import type { EngineConfig } from "../config";
import { replayableRunCount } from "../d1/dead-letters";
import type { DashboardEnv } from "./access";
import { callApi, query } from "./api-client";
import { deadLettersPageQuery, normalizeTime, ULID } from "./filters";
import { ErrorBox, Layout } from "./layout";
import { BulkReplayPage, BulkResultPage } from "./pages/dead-letters";
import { page } from "./render";

const fromField = z.enum(["failed-step", "start"]).catch("failed-step");
/** One page of bulk replay per API call; a dashboard bulk replay makes at most this many calls (10,000 runs). */
const BULK_CALLS = 20;

interface BulkAnswer {
  replayed: number;
  skipped: number;
  remaining: boolean;
  nextCursor: string | null;
  failed: { runId: string; message: string }[];
}

// A time filter as a JSON body takes it: epoch milliseconds as a number, anything else as typed.
const bodyTime = (v: string | undefined) => (v !== undefined && /^\d{1,16}$/.test(v) ? Number(v) : v);

/** The dashboard's actions: replay one run, count then replay the runs a dead-letter filter selects. */
export function actionRoutes(config: EngineConfig, api: ManagementApi) {
  const functionIds = config.registry.all().map((fn) => fn.config.id);
  return new Hono<DashboardEnv>()
    .post("/runs/:runId/replay", async (c) => {
      const runId = c.req.param("runId");
      const from = fromField.parse((await c.req.parseBody()).from);
      const r = await callApi(api, c, `/runs/${encodeURIComponent(runId)}/replay`, { method: "POST", json: { from } });
      if (!r.ok) {
        return page(
          c,
          <Layout title="Replay refused" nav="runs" csrf={c.var.csrf} session={c.var.session}>
            <ErrorBox code={r.code} message={r.message} />
            {ULID.test(runId) && <a href={`/dashboard/runs/${runId}`}>Back to the run</a>}
          </Layout>,
          r.status === 404 ? 404 : 409,
        );
      }
      return c.redirect(`/dashboard/runs/${runId}?replayed=${from}`, 303);
    })
    .get("/dead-letters/replay", async (c) => {
      const q = deadLettersPageQuery.parse(c.req.query());
      const shown = { functionId: q.functionId, code: q.code, since: q.since, until: q.until };
      const filter = { ...shown, since: normalizeTime(q.since), until: normalizeTime(q.until) };
      // The list route validates the filter exactly as the replay route will.
      const checked = await callApi(api, c, `/dead-letters${query({ ...filter, limit: "1" })}`);
      const count = checked.ok
        ? await replayableRunCount(c.env.DB, {
            ...(filter.functionId ? { functionId: filter.functionId } : {}),
            ...(filter.code ? { code: filter.code } : {}),
            ...(filter.since ? { since: parseInstant(filter.since, "query")! } : {}),
            ...(filter.until ? { until: parseInstant(filter.until, "query")! } : {}),
          })
        : undefined;
      return page(
        c,
        <Layout title="Replay dead-lettered runs" nav="dead-letters" csrf={c.var.csrf} session={c.var.session}>
          <BulkReplayPage
            filter={shown}
            functionIds={functionIds}
            csrf={c.var.csrf}
            {...(count !== undefined ? { count } : {})}
            {...(!checked.ok ? { error: { code: checked.code, message: checked.message } } : {})}
          />
        </Layout>,
      );
    })
    .post("/dead-letters/replay", async (c) => {
      const form = await c.req.parseBody();
      const q = deadLettersPageQuery.parse(form);
      const body = {
        ...(q.functionId ? { functionId: q.functionId } : {}),
        ...(q.code ? { code: q.code } : {}),
        ...(q.since ? { since: bodyTime(normalizeTime(q.since)) } : {}),
        ...(q.until ? { until: bodyTime(normalizeTime(q.until)) } : {}),
        from: fromField.parse(form.from),
      };
      const total = { replayed: 0, skipped: 0, failed: [] as BulkAnswer["failed"], more: false };
      let cursor: string | undefined;
      for (let call = 0; call < BULK_CALLS; call++) {
        const r = await callApi<BulkAnswer>(api, c, "/dead-letters/replay", {
          method: "POST",
          json: { ...body, ...(cursor ? { cursor } : {}) },
        });
        if (!r.ok) {
          return page(
            c,
            <Layout title="Bulk replay refused" nav="dead-letters" csrf={c.var.csrf} session={c.var.session}>
              <ErrorBox code={r.code} message={r.message} />
            </Layout>,
            400,
          );
        }
        total.replayed += r.body.replayed;
        total.skipped += r.body.skipped;
        total.failed.push(...r.body.failed);
        total.more = r.body.remaining;
        if (!r.body.remaining || !r.body.nextCursor) break;
        cursor = r.body.nextCursor;
      }
      return page(
        c,
        <Layout title="Bulk replay" nav="dead-letters" csrf={c.var.csrf} session={c.var.session}>
          <BulkResultPage {...total} />
        </Layout>,
      );
    });
}
