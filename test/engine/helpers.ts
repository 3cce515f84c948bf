import { abortAllDurableObjects, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import type { Env, RunDetail } from "../../src";
import { eventPlace, eventShardName, idShardName } from "../../src/events/keys";
import { claimAcceptances, storeEvents } from "../../src/events/store";
import { placeOf, shardName } from "../../src/listing/keys";
import type { ListingRow } from "../../src/listing/rows";
import { writeListing } from "../../src/listing/store";

export const BASE = "http://stepflare.test";

export async function sendEvents(body: unknown): Promise<string[]> {
  const res = await exports.default.fetch(`${BASE}/e/test-key`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (res.status !== 200) throw new Error(`ingest answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { ids: string[] }).ids;
}

export async function api<T = unknown>(path: string, init?: RequestInit): Promise<{ status: number; body: T }> {
  const res = await exports.default.fetch(`${BASE}${path}`, init);
  return { status: res.status, body: (await res.json()) as T };
}

export async function waitFor<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

type EventRuns = { runs: { id: string; functionId: string; status: string }[] };

/** Waits until the event has `n` runs in a final state, and answers their details. */
export async function settledRuns(eventId: string, n = 1, timeoutMs?: number): Promise<RunDetail[]> {
  return waitFor(
    async () => {
      const { status, body } = await api<EventRuns>(`/api/v1/events/${eventId}`);
      if (status !== 200 || body.runs.length < n) return undefined;
      const details = await Promise.all(body.runs.map((r) => api<RunDetail>(`/api/v1/runs/${r.id}`).then((x) => x.body)));
      return details.every((d) => d.status === "completed" || d.status === "failed") ? details : undefined;
    },
    `${n} settled run(s) of event ${eventId}`,
    timeoutMs,
  );
}

/**
 * The real D1 binding with a hook on every bind: the hook sees the SQL and the
 * values, and may answer a statement to use instead (to inject a failure);
 * answering nothing binds as usual. Not a fake: every statement still runs
 * against the real database unless a test replaces that one.
 */
export function onBind(db: D1Database, hook: (sql: string, values: unknown[]) => unknown): D1Database {
  return new Proxy(db, {
    get(target, prop) {
      if (prop !== "prepare") return Reflect.get(target, prop, target);
      return (sql: string) =>
        new Proxy(target.prepare(sql), {
          get(st, p) {
            if (p !== "bind") return Reflect.get(st, p, st);
            return (...values: unknown[]) => hook(sql, values) ?? st.bind(...values);
          },
        });
    },
  });
}

/**
 * Notes the UTF-8 size of every string bound to a statement: local D1 does not
 * enforce the platform's 2,000,000-byte limit on a value, so tests check what
 * is sent against it.
 */
export function boundSizesOf(db: D1Database, sizes: number[]): D1Database {
  const encoder = new TextEncoder();
  return onBind(db, (_sql, values) => {
    for (const v of values) if (typeof v === "string") sizes.push(encoder.encode(v).byteLength);
    return undefined;
  });
}

/**
 * The real RUNS binding, except that `method` on the object `failing` names
 * rejects with `error`, as an object that cannot answer would.
 */
export function withFailingMethod(runs: Env["RUNS"], failing: DurableObjectId, method: string, error: Error): Env["RUNS"] {
  return new Proxy(runs, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (prop !== "get") return typeof value === "function" ? value.bind(target) : value;
      return (id: DurableObjectId) => {
        const stub = target.get(id);
        if (!id.equals(failing)) return stub;
        return new Proxy(stub, { get: (s, p) => (p === method ? () => Promise.reject(error) : Reflect.get(s, p, s)) });
      };
    },
  });
}

/** A dead letter as the API answers it. */
export type DeadLetter = {
  id: string;
  runId: string | null;
  functionId: string | null;
  stepKey: string | null;
  attempts: number;
  source: string;
  body?: unknown;
  error: { code?: string; message: string; stack?: string };
};

/** The dead letters of one run, from the first page of the API's listing. */
export async function deadLettersOf(runId: string): Promise<DeadLetter[]> {
  const { body } = await api<{ deadLetters: DeadLetter[] }>(`/api/v1/dead-letters?limit=100`);
  return body.deadLetters.filter((d) => d.runId === runId);
}

/**
 * Puts a completed two-step parallel run back to the moment its step p0 was
 * dispatched and p1 had completed, in a fresh instance: the run waits on a
 * claim of p0's attempt 1. Answers p0's plan sequence.
 */
export async function backToDispatched(runId: string): Promise<number> {
  const runs = (env as unknown as Env).RUNS;
  const planSeq = await runInDurableObject(runs.get(runs.idFromName(runId)), (_instance, ctx) => {
    ctx.storage.sql.exec("UPDATE run SET status = 'running', output = NULL, ended_at = NULL");
    ctx.storage.sql.exec(
      `UPDATE steps SET status = 'running', output = NULL, ended_at = NULL, settle_seq = NULL, attempts = 1,
       claimed_attempt = NULL, claim_token = NULL, deadline_at = NULL WHERE key = 'p0'`,
    );
    return ctx.storage.sql.exec<{ plan_seq: number }>("SELECT plan_seq FROM steps WHERE key = 'p0'").one().plan_seq;
  });
  await abortAllDurableObjects();
  return planSeq;
}

/** Runs `sql` in the listing shard that holds `runId`'s row; answers the first row it gives, or null. */
export async function inListing<T = Record<string, unknown>>(runId: string, sql: string, ...args: unknown[]): Promise<T | null> {
  const shards = (env as unknown as Env).RUN_LISTING;
  const stub = shards.get(shards.idFromName(shardName(placeOf(runId))));
  return runInDurableObject(stub, (_instance, state) => (state.storage.sql.exec(sql, ...args).toArray()[0] as T | undefined) ?? null);
}

/** Lists these rows as the engine does, each in its shard. */
export async function putListing(rows: (Omit<ListingRow, "endedAt" | "errorCode"> & Partial<ListingRow>)[]): Promise<void> {
  await writeListing(
    env as unknown as Env,
    rows.map((r) => ({ endedAt: null, errorCode: null, ...r })),
  );
}

const eventStore = () => (env as unknown as Env).EVENT_STORE;

/** When the id index says `id` was last accepted, or undefined. */
export async function acceptedAtOf(id: string): Promise<number | undefined> {
  const ids = eventStore();
  return (await ids.get(ids.idFromName(idShardName(id))).acceptance(id)) ?? undefined;
}

/** An event's latest acceptance as its shard holds it, with its sweeps, or null. */
export async function storedEvent(
  id: string,
): Promise<{ accepted_at: number; name: string; payload: string; dispatched_at: number | null; sweeps: number } | null> {
  const acceptedAt = await acceptedAtOf(id);
  if (acceptedAt === undefined) return null;
  return inEventShard(
    id,
    acceptedAt,
    "SELECT accepted_at, name, payload, dispatched_at, sweeps FROM events WHERE id = ? AND accepted_at = ?",
    id,
    acceptedAt,
  );
}

/** Runs `sql` in the event shard of this acceptance; answers the first row it gives, or null. */
export async function inEventShard<T = Record<string, unknown>>(
  id: string,
  acceptedAt: number,
  sql: string,
  ...args: unknown[]
): Promise<T | null> {
  const shards = eventStore();
  const stub = shards.get(shards.idFromName(eventShardName(eventPlace(id, acceptedAt))));
  return runInDurableObject(stub, (_instance, state) => {
    // A shard that holds nothing has no tables: it makes them on its first use.
    if (state.storage.sql.exec("SELECT 1 FROM sqlite_master WHERE name = 'events'").toArray().length === 0) return null;
    return (state.storage.sql.exec(sql, ...args).toArray()[0] as T | undefined) ?? null;
  });
}

/** Stores and indexes an event as ingest does, accepted at `acceptedAt`; `sweeps` and `dispatchedAt` as given. */
export async function putEvent(e: {
  id: string;
  name: string;
  data?: unknown;
  /** The stored JSON as it is, in place of the event built from `data`. */
  payload?: string;
  acceptedAt: number;
  dispatchedAt?: number;
  sweeps?: number;
}) {
  const testEnv = env as unknown as Env;
  const payload = e.payload ?? JSON.stringify({ id: e.id, name: e.name, data: e.data ?? {}, ts: e.acceptedAt });
  await storeEvents(testEnv, [
    { id: e.id, name: e.name, payload, acceptedAt: e.acceptedAt, ...(e.dispatchedAt ? { dispatchedAt: e.dispatchedAt } : {}) },
  ]);
  await claimAcceptances(testEnv, [[e.id, e.acceptedAt]], { windowMs: 24 * 3600_000, keepMs: 7 * 24 * 3600_000 });
  if (e.sweeps) await inEventShard(e.id, e.acceptedAt, "UPDATE events SET sweeps = ? WHERE id = ?", e.sweeps, e.id);
}

const EVENT_STORE_METHODS = new Set([
  "claim",
  "acceptance",
  "store",
  "load",
  "markDispatched",
  "drop",
  "stale",
  "countSweep",
  "resetSweeps",
  "page",
  "since",
  "prune",
]);

/**
 * The real EVENT_STORE binding, with every call of a shard's method shown to
 * `onCall` first: an error it answers is what the call rejects with, as a
 * shard that cannot answer would.
 */
export function eventStoreWith(onCall: (method: string, args: unknown[]) => Error | undefined): Env["EVENT_STORE"] {
  const shards = eventStore();
  return new Proxy(shards, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (prop !== "get") return typeof value === "function" ? value.bind(target) : value;
      return (id: DurableObjectId) => {
        const stub = target.get(id);
        return new Proxy(stub, {
          get: (s, p) => {
            const real = Reflect.get(s, p, s);
            if (typeof p !== "string" || !EVENT_STORE_METHODS.has(p)) return real;
            return (...args: unknown[]) => {
              const error = onCall(p, args);
              return error ? Promise.reject(error) : (real as (...a: unknown[]) => unknown)(...args);
            };
          },
        });
      };
    },
  });
}

/** The real EVENT_STORE binding, except that a call of `method` rejects with `error` when `failing(args)` says so. */
export const eventStoreFailing = (method: string, error: Error, failing: (args: unknown[]) => boolean = () => true): Env["EVENT_STORE"] =>
  eventStoreWith((m, args) => (m === method && failing(args) ? error : undefined));

/** Runs `sql` in the id shard of `id`; answers the first row it gives, or null. */
export async function inIdShard<T = Record<string, unknown>>(id: string, sql: string, ...args: unknown[]): Promise<T | null> {
  const shards = eventStore();
  const stub = shards.get(shards.idFromName(idShardName(id)));
  return runInDurableObject(stub, (_instance, state) => (state.storage.sql.exec(sql, ...args).toArray()[0] as T | undefined) ?? null);
}
