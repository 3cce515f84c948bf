import { DurableObject } from "cloudflare:workers";
import type { EngineConfig } from "../config";
import type { Env } from "../env";
import { ConcurrencySlots, GRANT_RETRY_MS, type Grant } from "./concurrency";
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
  async acquireSlot(name: string, runId: string, ticket: number, ord: number, limit: number): Promise<boolean> {
    const slots = this.#concurrency(name);
    const { granted, grants } = slots.acquire(runId, ticket, ord, limit, Date.now(), this.config.limits.concurrencyLeaseMs);
    void this.#offer(name, grants);
    return granted;
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
    this.#serve("concurrency", name);
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
    this.#serve("throttle");
    return new ThrottleStore(this.ctx.storage.sql).reserve(runId, Date.now(), spec);
  }

  // ---- the object's kind and alarm ---------------------------------------------

  /** Notes, once, which kind this object serves (and for a concurrency limit its name), so its alarm knows what to do. */
  #serve(kind: FlowKind, name?: string): void {
    if (this.#servedName !== undefined && (name === undefined || name === this.#servedName)) return;
    this.#servedName = name ?? null;
    const sql = this.ctx.storage.sql;
    sql.exec("CREATE TABLE IF NOT EXISTS flow_object (id INTEGER PRIMARY KEY CHECK (id = 0), kind TEXT NOT NULL, name TEXT)");
    sql.exec("INSERT OR IGNORE INTO flow_object (id, kind, name) VALUES (0, ?, ?)", kind, name ?? null);
    if (name !== undefined) sql.exec("UPDATE flow_object SET name = ? WHERE name IS NULL", name);
  }

  #served(): { kind: FlowKind; name: string | null } | undefined {
    const sql = this.ctx.storage.sql;
    if (sql.exec("SELECT 1 FROM sqlite_master WHERE name = 'flow_object'").toArray().length === 0) return undefined;
    return sql.exec<{ kind: FlowKind; name: string | null }>("SELECT kind, name FROM flow_object").toArray()[0];
  }

  #armAlarm(): void {
    const at = this.#slots?.nextLeaseAt() ?? null;
    if (at === null) void this.ctx.storage.deleteAlarm();
    else void this.ctx.storage.setAlarm(Math.max(at, Date.now() + 5));
  }

  override async alarm(): Promise<void> {
    const served = this.#served();
    switch (served?.kind) {
      case "concurrency": {
        const name = served.name ?? "";
        const slots = this.#concurrency(name);
        const now = Date.now();
        const lapsed = slots.lapsed(now);
        // Asked again shortly unless the run answers meanwhile.
        for (const g of lapsed) slots.retryLater(g, now + GRANT_RETRY_MS);
        await this.#offer(name, lapsed);
        return;
      }
      default:
        return;
    }
  }
}

/** The kinds of flow-control object; the first part of each object's name. */
export type FlowKind = "concurrency" | "throttle" | "rate-limit" | "debounce" | "batch" | "singleton" | "idempotency";

/**
 * The name of the object holding one limit's state: its kind, its scope (a
 * function id, or `env` for a concurrency key shared across functions) and the key's value.
 */
export function flowObjectName(kind: FlowKind, scope: string, key: string): string {
  return `${kind}\u0000${scope}\u0000${key}`;
}
