import { DurableObject } from "cloudflare:workers";
import type { FunctionConfig } from "../../sdk/internal";
import type { EngineConfig } from "../config";
import type { Env } from "../env";
import type { StoredEvent } from "../messages/events";
import type { RemoteTarget } from "../remote/target";
import type { StartRun } from "../run/rpc";
import { BatchKey } from "./batch";
import { ConcurrencySlots, GRANT_RETRY_MS, type Grant } from "./concurrency";
import { DebounceKey } from "./debounce";
import { IdempotencyKey } from "./idempotency";
import { RateLimitWindow } from "./rate-limit";
import { Serial } from "./serial";
import { type SingletonAnswer, SingletonKey } from "./singleton";
import { ThrottleStore } from "./throttle";

/**
 * Flow control's state: one object per limit kind, function (or shared key)
 * and key value, named by `flowObjectName`, so different keys never wait on
 * each other and no single object carries every function. Each kind keeps its
 * own tables in the object's SQLite (src/flow/<kind>.ts); an object serves one kind.
 */
export class StepflareFlowObject extends DurableObject<Env> {
  protected readonly config: EngineConfig;
  #slots: ConcurrencySlots | undefined;
  /** Runs whose acquireSlot call waits for a slot, by run and ticket: granted, they are answered, not offered. */
  readonly #waiters = new Map<string, () => void>();
  /** When this instance set the alarm of its concurrency slots; null when none is set (or an earlier instance set it). */
  #alarmAt: number | null = null;
  /** True while a flush of released slots' rows is due. */
  #flushing = false;
  /** Set once this instance has noted its kind: the name it noted, or null for none. */
  #servedName: string | null | undefined;

  constructor(ctx: DurableObjectState, env: Env, config: EngineConfig) {
    super(ctx, env);
    this.config = config;
  }

  // ---- concurrency -----------------------------------------------------------

  /**
   * A queued run asks for a slot of the limit `name` (again, idempotently):
   * true when it holds one now. Else it keeps its place, ordered by `ord`
   * (when it queued, less its priority), and is offered a slot when one frees.
   */
  async acquireSlot(name: string, runId: string, ticket: number, ord: number, limit: number, waitMs = SLOT_WAIT_MS): Promise<boolean> {
    const slots = this.#concurrency(name);
    const { granted, grants } = slots.acquire(runId, ticket, ord, limit, Date.now(), this.config.limits.concurrencyLeaseMs);
    void this.#offer(name, grants);
    if (granted) return true;
    // Not yet: the run keeps its place in the queue, and this call waits a
    // little for its turn, which a burst of short runs soon brings. Answered
    // here, the run starts at once instead of being listed queued and offered
    // the slot later. Past the wait, the slot is offered as usual.
    return new Promise<boolean>((resolve) => {
      const key = waiterKey(runId, ticket);
      const timer = setTimeout(
        () => {
          this.#waiters.delete(key);
          resolve(false);
        },
        Math.min(waitMs, SLOT_WAIT_MS),
      );
      this.#waiters.set(key, () => {
        clearTimeout(timer);
        this.#waiters.delete(key);
        resolve(true);
      });
    });
  }

  /**
   * For the fan-out, before it starts `runs`: takes a free slot for each it
   * can, in order, while no run is queued (`ConcurrencySlots.reserve`).
   * Answers the runs that hold one; each starts holding it (`StartRun.slots`).
   */
  async reserveSlots(name: string, runs: { runId: string; ord: number }[], limit: number): Promise<string[]> {
    const held = this.#concurrency(name).reserve(runs, limit, Date.now(), this.config.limits.concurrencyLeaseMs);
    this.#armAlarm();
    return held;
  }

  /** For the fan-out: the slots of runs that ended in their first turn (`StartedRun.releases`), let go of together. */
  async releaseSlotsOf(name: string, runs: { runId: string; ticket: number }[]): Promise<void> {
    const slots = this.#concurrency(name);
    const now = Date.now();
    void this.#offer(
      name,
      runs.flatMap((r) => slots.release(r.runId, r.ticket, now)),
    );
  }

  /** The run let go of its slot, or its place in the queue, of `ticket` or an earlier stay. */
  async releaseSlot(name: string, runId: string, ticket: number): Promise<void> {
    void this.#offer(name, this.#concurrency(name).release(runId, ticket, Date.now()));
  }

  /** Slots held and runs queued. */
  async slotCounts(): Promise<{ held: number; queued: number }> {
    return this.#concurrency().counts();
  }

  #concurrency(name?: string): ConcurrencySlots {
    this.#serveLimit("concurrency", name);
    this.#slots ??= new ConcurrencySlots(this.ctx.storage.sql);
    return this.#slots;
  }

  /**
   * Tells each run its slot (a lapsed lease asks the same): a run that takes
   * or holds it keeps it for a lease; one that no longer wants it frees it
   * for the next; one not reached is asked again by the alarm.
   */
  async #offer(name: string, grants: Grant[]): Promise<void> {
    this.#armAlarm();
    await Promise.all(
      grants.map(async (g) => {
        const waiter = this.#waiters.get(waiterKey(g.runId, g.ticket));
        if (waiter) {
          // Its acquireSlot call is still open: the answer tells it. An answer lost on the way is caught by the slot's lease.
          this.#concurrency().confirm(g, Date.now(), this.config.limits.concurrencyLeaseMs);
          waiter();
          return;
        }
        let held: boolean;
        try {
          held = await this.env.RUNS.get(this.env.RUNS.idFromName(g.runId)).offerSlot(name, g.ticket);
        } catch (e) {
          console.error(
            `stepflare: offering a slot of ${JSON.stringify(name)} to run ${g.runId} failed; asking again:`,
            (e as Error).message,
          );
          return;
        }
        const slots = this.#concurrency();
        if (held) slots.confirm(g, Date.now(), this.config.limits.concurrencyLeaseMs);
        else await this.#offer(name, slots.release(g.runId, g.ticket, Date.now()));
        this.#armAlarm();
      }),
    );
  }

  // ---- throttle --------------------------------------------------------------

  /** When run `runId` may start under this throttle: a time reserved for it, the same on every ask. */
  async reserveStart(runId: string, spec: { limit: number; periodMs: number; burst: number }): Promise<number> {
    this.#serveLimit("throttle");
    return new ThrottleStore(this.ctx.storage.sql).reserve(runId, Date.now(), spec);
  }

  // ---- the object's kind and alarm ---------------------------------------------

  /** Notes, once, which kind this object serves (and for a concurrency limit its name), so its alarm knows what to do. */
  #serveLimit(kind: FlowKind, name?: string): void {
    if (this.#servedName !== undefined && (name === undefined || name === this.#servedName)) return;
    this.#servedName = name ?? null;
    const sql = this.ctx.storage.sql;
    sql.exec("CREATE TABLE IF NOT EXISTS flow_object (id INTEGER PRIMARY KEY CHECK (id = 0), kind TEXT NOT NULL, name TEXT)");
    sql.exec("INSERT OR IGNORE INTO flow_object (id, kind, name) VALUES (0, ?, ?)", kind, name ?? null);
    if (name !== undefined) sql.exec("UPDATE flow_object SET name = ? WHERE name IS NULL", name);
  }

  #servedLimit(): { kind: FlowKind; name: string | null } | undefined {
    const sql = this.ctx.storage.sql;
    if (sql.exec("SELECT 1 FROM sqlite_master WHERE name = 'flow_object'").toArray().length === 0) return undefined;
    return sql.exec<{ kind: FlowKind; name: string | null }>("SELECT kind, name FROM flow_object").toArray()[0];
  }

  /**
   * Brings the alarm forward to the earliest lease when that is sooner than
   * the alarm set; never moves it back, since an early alarm finds no lapsed
   * slot and sets the next one. So a slot taken or let go seldom sets it.
   */
  #armAlarm(): void {
    const slots = this.#slots;
    if (slots?.releasesPending && !this.#flushing) {
      this.#flushing = true;
      setTimeout(() => {
        this.#flushing = false;
        this.#slots?.flushReleases();
      }, RELEASE_FLUSH_MS);
    }
    const at = slots?.takeSoonestLease() ?? null;
    if (at === null || (this.#alarmAt !== null && this.#alarmAt <= at)) return;
    this.#alarmAt = Math.max(at, Date.now() + 5);
    void this.ctx.storage.setAlarm(this.#alarmAt);
  }

  // ---- event side: decisions the fan-out asks for before a run exists --------

  readonly #serial = new Serial();

  /** For `rateLimit`: whether the run may start (false: skipped, `rate_limited`). The same answer for a redelivery. */
  async rateLimit(functionId: string, runId: string, remote?: RemoteServed): Promise<boolean> {
    const { rateLimit } = this.#serve("rate-limit", functionId, remote);
    if (!rateLimit) throw new Error(`function ${functionId} has no rateLimit`);
    const { allowed, pruneAt } = new RateLimitWindow(this.ctx.storage.sql).admit(runId, Date.now(), rateLimit.limit, rateLimit.period);
    await this.#alarmBy(pruneAt);
    return allowed;
  }

  /** For `idempotency`: whether the run may start (false: skipped, `idempotency_duplicate`). */
  async idempotency(functionId: string, runId: string, remote?: RemoteServed): Promise<boolean> {
    this.#serve("idempotency", functionId, remote);
    const { allowed, expiresAt } = new IdempotencyKey(this.ctx.storage.sql).admit(runId, Date.now());
    await this.#alarmBy(expiresAt);
    return allowed;
  }

  /** For `singleton`: starts the run if the key is free (or, mode `cancel`, after cancelling its holder), else skips it. */
  async singleton(init: StartRun, remote?: RemoteServed): Promise<SingletonAnswer> {
    const { singleton } = this.#serve("singleton", init.functionId, remote);
    if (!singleton) throw new Error(`function ${init.functionId} has no singleton`);
    const key = new SingletonKey(this.ctx.storage.sql, this.env);
    return this.#serial.run(async () => {
      const answer = await key.admit(init, singleton.mode, Date.now());
      const next = key.prune(Date.now());
      if (next !== null) await this.#alarmBy(next);
      return answer;
    });
  }

  /** For `debounce`: holds the event as the one the run will start with, superseding the one held. */
  async debounce(functionId: string, runId: string, event: StoredEvent, acceptedAt: number, remote?: RemoteServed): Promise<void> {
    const { debounce } = this.#serve("debounce", functionId, remote);
    if (!debounce) throw new Error(`function ${functionId} has no debounce`);
    const key = new DebounceKey(this.ctx.storage.sql, this.env);
    const due = await this.#serial.run(() => key.push(functionId, runId, event, acceptedAt, Date.now(), debounce.period, debounce.timeout));
    await this.ctx.storage.setAlarm(due);
  }

  /** For `batchEvents`: adds the event to the open batch, starting its run when it is full. */
  async batch(functionId: string, runId: string, event: StoredEvent, acceptedAt: number, remote?: RemoteServed): Promise<void> {
    const { batchEvents } = this.#serve("batch", functionId, remote);
    if (!batchEvents) throw new Error(`function ${functionId} has no batchEvents`);
    const key = new BatchKey(this.ctx.storage.sql, this.env);
    const next = await this.#serial.run(() =>
      key.add(functionId, runId, event, acceptedAt, Date.now(), batchEvents.maxSize, batchEvents.timeout, this.#remote()?.target),
    );
    if (next !== null) await this.ctx.storage.setAlarm(next);
  }

  override async alarm(): Promise<void> {
    const limit = this.#servedLimit();
    if (limit?.kind === "concurrency") {
      const name = limit.name ?? "";
      this.#alarmAt = null;
      const slots = this.#concurrency(name);
      const now = Date.now();
      const lapsed = slots.lapsed(now);
      // Asked again shortly unless the run answers meanwhile.
      for (const g of lapsed) slots.retryLater(g, now + GRANT_RETRY_MS);
      await this.#offer(name, lapsed);
      // The next alarm: the earliest lease of the slots still held.
      const next = slots.nextLeaseAt();
      if (next !== null && (this.#alarmAt === null || next < this.#alarmAt)) {
        this.#alarmAt = Math.max(next, Date.now() + 5);
        await this.ctx.storage.setAlarm(this.#alarmAt);
      }
      return;
    }
    const served = this.#served();
    if (!served) return;
    const remote = this.#remote();
    const config = this.config.registry.get(served.functionId)?.config ?? remote?.config;
    if (!config) return; // the function is gone from this engine: its state is kept, and nothing fires
    const now = Date.now();
    const sql = this.ctx.storage.sql;
    let next: number | null = null;
    switch (served.kind) {
      case "rate-limit":
        next = config.rateLimit ? new RateLimitWindow(sql).prune(now, config.rateLimit.period) : null;
        break;
      case "idempotency":
        next = new IdempotencyKey(sql).expire(now);
        break;
      case "singleton":
        next = new SingletonKey(sql, this.env).prune(now);
        break;
      case "debounce":
        next = await this.#serial.run(() => new DebounceKey(sql, this.env).fire(served.functionId, now, remote?.target));
        break;
      case "batch": {
        const timeout = config.batchEvents?.timeout ?? 0;
        next = await this.#serial.run(() => new BatchKey(sql, this.env).fire(served.functionId, now, timeout, remote?.target));
        break;
      }
      default:
        return;
    }
    if (next !== null) await this.ctx.storage.setAlarm(next);
  }

  /**
   * Records which kind and function this object serves, on first use; answers the function's config. A function
   * another app serves comes with its config and target, kept here for the alarm and the runs it starts later.
   */
  #serve(kind: FlowKind, functionId: string, remote?: RemoteServed): FunctionConfig {
    if (remote && !this.config.registry.get(functionId)) {
      const sql = this.ctx.storage.sql;
      sql.exec("CREATE TABLE IF NOT EXISTS flow_remote (id INTEGER PRIMARY KEY CHECK (id = 0), json TEXT NOT NULL)");
      sql.exec("INSERT OR REPLACE INTO flow_remote (id, json) VALUES (0, ?)", JSON.stringify(remote));
    }
    const config = this.config.registry.get(functionId)?.config ?? this.#remote()?.config;
    if (!config) throw new Error(`unknown function ${functionId}`);
    const served = this.#served();
    if (!served) {
      this.ctx.storage.sql.exec("INSERT INTO flow_served (kind, function_id) VALUES (?, ?)", kind, functionId);
    } else if (served.kind !== kind || served.functionId !== functionId) {
      throw new Error(`flow object of ${served.kind} for ${served.functionId} asked for ${kind} of ${functionId}`);
    }
    return config;
  }

  /** The remote function this object serves, as its last call brought it; undefined for the engine's own. */
  #remote(): RemoteServed | undefined {
    const sql = this.ctx.storage.sql;
    if (sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'flow_remote'").toArray().length === 0) return undefined;
    const row = sql.exec<{ json: string }>("SELECT json FROM flow_remote").toArray()[0];
    return row ? (JSON.parse(row.json) as RemoteServed) : undefined;
  }

  #served(): { kind: FlowKind; functionId: string } | undefined {
    const sql = this.ctx.storage.sql;
    sql.exec("CREATE TABLE IF NOT EXISTS flow_served (kind TEXT NOT NULL, function_id TEXT NOT NULL)");
    const row = sql.exec<{ kind: string; function_id: string }>("SELECT kind, function_id FROM flow_served").toArray()[0];
    return row ? { kind: row.kind as FlowKind, functionId: row.function_id } : undefined;
  }

  /** Sets the alarm to `at` unless one is due sooner. */
  async #alarmBy(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || at < current) await this.ctx.storage.setAlarm(at);
  }
}

/** A function another app serves, as the fan-out hands it to a flow object: its config and where to call it. */
export interface RemoteServed {
  config: FunctionConfig;
  target: RemoteTarget;
}

/** Released slots' rows are deleted together this long after the first: one transaction for the releases of a burst. */
const RELEASE_FLUSH_MS = 50;

/**
 * How long an acquireSlot call waits for a slot, at most, before the run is
 * left queued and offered one later: long enough for the runs ahead of it in
 * a burst to end (an offer costs the run a listing row and a call more).
 */
export const SLOT_WAIT_MS = 1000;

const waiterKey = (runId: string, ticket: number) => `${runId}\u0000${ticket}`;

/** The kinds of flow-control object; the first part of each object's name. */
export type FlowKind = "concurrency" | "throttle" | "rate-limit" | "debounce" | "batch" | "singleton" | "idempotency";

/**
 * The name of the object holding one limit's state: its kind, its scope (a
 * function id, or `env` for a concurrency key shared across functions) and the key's value.
 */
export function flowObjectName(kind: FlowKind, scope: string, key: string): string {
  return `${kind}\u0000${scope}\u0000${key}`;
}
