import { getJson, mapLimit, pollUntil, postJson } from "./http.mjs";

/** Events per ingest request when sending many, and Workflow instances per createBatch. */
export const BATCH = 100;
const WAIT = { timeoutMs: 180_000, stallMs: 30_000 };

/**
 * Stepflare driven as a user would: events POSTed to /e/:key; completion
 * read from the run listing's shards through /bench/runs (no call into any
 * run's object).
 */
export class StepflareDriver {
  constructor(base) {
    this.base = base;
  }

  /**
   * POSTs `events` in requests of `perRequest`, `concurrency` in flight;
   * answers each request's latency. `path: "queue"` sends Cloudflare's
   * `cf-ray` header, so the engine (ingest "auto") takes the queue path, as
   * behind the edge; otherwise it takes the store path, as in local dev.
   */
  async send(events, { perRequest = BATCH, concurrency = 1, path = "store" } = {}) {
    const headers = path === "queue" ? { "cf-ray": "0000000000000000-BENCH" } : {};
    const bodies = [];
    for (let i = 0; i < events.length; i += perRequest) {
      const chunk = events.slice(i, i + perRequest);
      bodies.push(perRequest === 1 ? chunk[0] : chunk);
    }
    return mapLimit(bodies, concurrency, async (body) => {
      const t = performance.now();
      const res = await postJson(`${this.base}/e/bench-key`, body, headers);
      if (res.ids.length !== (Array.isArray(body) ? body.length : 1)) throw new Error("ingest answered the wrong number of ids");
      return performance.now() - t;
    });
  }

  async runs(functionIds, since) {
    return getJson(`${this.base}/bench/runs?fn=${functionIds.join(",")}&since=${since}`);
  }

  /**
   * Waits until `expected` runs of these functions started since `since` have
   * ended. Answers how many completed and the last one's end time (from the
   * run itself, not from polling).
   */
  async waitRuns(functionIds, since, expected) {
    const r = await pollUntil(async () => {
      const s = await this.runs(functionIds, since);
      const ended = (s.byStatus.completed ?? 0) + (s.byStatus.failed ?? 0);
      return { done: ended >= expected, progressKey: `${s.total}/${ended}`, s };
    }, WAIT);
    return {
      completed: r.s.byStatus.completed ?? 0,
      failed: r.s.byStatus.failed ?? 0,
      total: r.s.total,
      lastEndedAt: r.s.lastEndedAt,
      firstStartedAt: r.s.firstStartedAt,
      timedOut: r.timedOut,
    };
  }
}

/**
 * Cloudflare Workflows through its binding: instances created by the bench
 * routes (`create` for one, `createBatch` for many) and watched with
 * `instance.status()`. Only the newest pending instance is probed until it is
 * done, then the rest are swept, so polling adds a status call per round.
 */
export class WorkflowsDriver {
  constructor(base) {
    this.base = base;
  }

  /** Creates `count` instances, `BATCH` per request (one createBatch each), one request at a time. */
  async create(shape, n, count) {
    const ids = [];
    for (let left = count; left > 0; left -= BATCH) {
      const res = await postJson(`${this.base}/bench/workflows`, { shape, n, count: Math.min(left, BATCH) });
      ids.push(...res.ids);
    }
    return ids;
  }

  async status(ids) {
    return postJson(`${this.base}/bench/workflows/status`, { ids });
  }

  async waitInstances(ids) {
    const pending = new Set(ids);
    let completed = 0;
    let errored = 0;
    let lastEndedAt = null;
    const absorb = ({ ended }) => {
      for (const e of ended) {
        if (!pending.delete(e.id)) continue;
        if (e.status === "complete") {
          completed++;
          lastEndedAt = Math.max(lastEndedAt ?? 0, e.endedAt);
        } else errored++;
      }
    };
    const r = await pollUntil(async () => {
      const newest = [...pending].at(-1);
      if (newest === undefined) return { done: true };
      absorb(await this.status([newest]));
      if (pending.has(newest)) return { done: false, progressKey: pending.size };
      // The newest has ended: sweep the rest, 50 per request.
      const rest = [...pending];
      for (let i = 0; i < rest.length; i += 50) absorb(await this.status(rest.slice(i, i + 50)));
      return { done: pending.size === 0, progressKey: pending.size };
    }, WAIT);
    return { completed, errored, lastEndedAt, timedOut: r.timedOut };
  }
}

/** The floor: the same trivial work in a plain route, no durability. Answers the round trip in ms. */
export async function floor(base, shape, n) {
  const t = performance.now();
  await getJson(`${base}/bench/floor?shape=${shape}&n=${n}`);
  return performance.now() - t;
}
