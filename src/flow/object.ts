import { DurableObject } from "cloudflare:workers";
import type { FunctionConfig } from "../../sdk/internal";
import type { EngineConfig } from "../config";
import type { Env } from "../env";
import type { StoredEvent } from "../messages/events";
import type { StartRun } from "../run/rpc";
import { BatchKey } from "./batch";
import { DebounceKey } from "./debounce";
import { IdempotencyKey } from "./idempotency";
import { RateLimitWindow } from "./rate-limit";
import { Serial } from "./serial";
import { type SingletonAnswer, SingletonKey } from "./singleton";

/**
 * Flow control's state: one object per limit kind, function (or shared key)
 * and key value, named by `flowObjectName`, so different keys never wait on
 * each other and no single object carries every function. Each kind keeps its
 * own tables in the object's SQLite (src/flow/<kind>.ts); an object serves one kind.
 */
export class StepflareFlowObject extends DurableObject<Env> {
  protected readonly config: EngineConfig;

  constructor(ctx: DurableObjectState, env: Env, config: EngineConfig) {
    super(ctx, env);
    this.config = config;
  }

  // ---- event side: decisions the fan-out asks for before a run exists --------

  readonly #serial = new Serial();

  /** For `rateLimit`: whether the run may start (false: skipped, `rate_limited`). The same answer for a redelivery. */
  async rateLimit(functionId: string, runId: string): Promise<boolean> {
    const { rateLimit } = this.#serve("rate-limit", functionId);
    if (!rateLimit) throw new Error(`function ${functionId} has no rateLimit`);
    const { allowed, pruneAt } = new RateLimitWindow(this.ctx.storage.sql).admit(runId, Date.now(), rateLimit.limit, rateLimit.period);
    await this.#alarmBy(pruneAt);
    return allowed;
  }

  /** For `idempotency`: whether the run may start (false: skipped, `idempotency_duplicate`). */
  async idempotency(functionId: string, runId: string): Promise<boolean> {
    this.#serve("idempotency", functionId);
    const { allowed, expiresAt } = new IdempotencyKey(this.ctx.storage.sql).admit(runId, Date.now());
    await this.#alarmBy(expiresAt);
    return allowed;
  }

  /** For `singleton`: starts the run if the key is free (or, mode `cancel`, after cancelling its holder), else skips it. */
  async singleton(init: StartRun): Promise<SingletonAnswer> {
    const { singleton } = this.#serve("singleton", init.functionId);
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
  async debounce(functionId: string, runId: string, event: StoredEvent, acceptedAt: number): Promise<void> {
    const { debounce } = this.#serve("debounce", functionId);
    if (!debounce) throw new Error(`function ${functionId} has no debounce`);
    const key = new DebounceKey(this.ctx.storage.sql, this.env);
    const due = await this.#serial.run(() => key.push(functionId, runId, event, acceptedAt, Date.now(), debounce.period, debounce.timeout));
    await this.ctx.storage.setAlarm(due);
  }

  /** For `batchEvents`: adds the event to the open batch, starting its run when it is full. */
  async batch(functionId: string, runId: string, event: StoredEvent, acceptedAt: number): Promise<void> {
    const { batchEvents } = this.#serve("batch", functionId);
    if (!batchEvents) throw new Error(`function ${functionId} has no batchEvents`);
    const key = new BatchKey(this.ctx.storage.sql, this.env);
    const next = await this.#serial.run(() =>
      key.add(functionId, runId, event, acceptedAt, Date.now(), batchEvents.maxSize, batchEvents.timeout),
    );
    if (next !== null) await this.ctx.storage.setAlarm(next);
  }

  override async alarm(): Promise<void> {
    const served = this.#served();
    if (!served) return;
    const config = this.config.registry.get(served.functionId)?.config;
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
        next = await this.#serial.run(() => new DebounceKey(sql, this.env).fire(served.functionId, now));
        break;
      case "batch": {
        const timeout = config.batchEvents?.timeout ?? 0;
        next = await this.#serial.run(() => new BatchKey(sql, this.env).fire(served.functionId, now, timeout));
        break;
      }
      default:
        return;
    }
    if (next !== null) await this.ctx.storage.setAlarm(next);
  }

  /** Records which kind and function this object serves, on first use; answers the function's config. */
  #serve(kind: FlowKind, functionId: string): FunctionConfig {
    const config = this.config.registry.get(functionId)?.config;
    if (!config) throw new Error(`unknown function ${functionId}`);
    const served = this.#served();
    if (!served) {
      this.ctx.storage.sql.exec("INSERT INTO flow_served (kind, function_id) VALUES (?, ?)", kind, functionId);
    } else if (served.kind !== kind || served.functionId !== functionId) {
      throw new Error(`flow object of ${served.kind} for ${served.functionId} asked for ${kind} of ${functionId}`);
    }
    return config;
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

/** The kinds of flow-control object; the first part of each object's name. */
export type FlowKind = "concurrency" | "throttle" | "rate-limit" | "debounce" | "batch" | "singleton" | "idempotency";

/**
 * The name of the object holding one limit's state: its kind, its scope (a
 * function id, or `env` for a concurrency key shared across functions) and the key's value.
 */
export function flowObjectName(kind: FlowKind, scope: string, key: string): string {
  return `${kind}\u0000${scope}\u0000${key}`;
}
