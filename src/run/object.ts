import { DurableObject } from "cloudflare:workers";
import type { EngineConfig } from "../config";
import type { Env } from "../env";
import type { ListingMessage as IndexMessage } from "../messages/listing";
import { callOnFailure, sendDeadLetter, storeDeadLetter } from "./after-failure";
import { AlarmPointer } from "./alarm";
import { retryDelayMs } from "./backoff";
import { deadLetterFor } from "./dead-letter";
import { type RunDetail, runDetail, runDetailJson } from "./detail";
import { RunDriver } from "./driver";
import { claimDispatched, memoAsOf, newRun, recoverInterruptedSteps, resetForReplay } from "./journal";
import { type ListingCheck as IndexCheck, listingRow as indexRow, sendListingRow as syncRunIndex } from "./listing";
import type { ClaimRequest, ReplayContext, StartedRun, StartRun } from "./rpc";
import { RunStore } from "./store";
import type { ReplayRecord, RunState, RunStatus, StepResult } from "./types";

export type { ClaimRequest, ReplayContext, StartedRun, StartRun } from "./rpc";
export type ReplayFrom = ReplayRecord["from"];

const startedState = (run: RunState) => ({
  status: run.status,
  startedAt: run.startedAt,
  endedAt: run.endedAt,
  errorCode: run.error?.code ?? null,
  version: run.version,
});

/** While a run is running, its alarm fires at least this often, so an evicted run resumes on its own. */
const RUN_LEASE_MS = 30_000;
const INDEX_SYNC_RETRY_MS = 5_000;
/** How long a listing row D1 kept refusing waits before its object sends it again. */
const INDEX_RESYNC_MS = 60_000;
/**
 * How long after its send a dead letter is looked for in D1 (and stored from
 * here if the failures queue lost it): long enough for the queue's consumer,
 * so a burst of failures still reaches D1 in batches.
 */
const DEAD_LETTER_CHECK_MS = 60_000;

/**
 * One run: its event, status and step journal in SQLite, its timers behind
 * the single alarm, and a driver that keeps a live execution of the handler
 * while the run makes progress (run/driver.ts). This class is the run's
 * surface: its RPC methods, its alarm, its listing and what follows a failure.
 */
export class StepflareRunObject extends DurableObject<Env> {
  readonly #config: EngineConfig;
  readonly #store: RunStore;
  readonly #driver: RunDriver;
  readonly #alarm: AlarmPointer;
  /** True while start() waits for the run's first turn: a change then reaches the listing through start()'s answer. */
  #inFirstTurn = false;
  #firstTurnOver: (() => void) | undefined;

  constructor(ctx: DurableObjectState, env: Env, config: EngineConfig) {
    super(ctx, env);
    this.#config = config;
    this.#store = new RunStore(ctx.storage);
    this.#alarm = new AlarmPointer(ctx.storage, this.#store);
    this.#driver = new RunDriver(this.#store, config, env, {
      armAlarm: () => this.#armAlarm(),
      ended: () => {
        if (!this.#inFirstTurn) this.#syncIndexSoon();
        this.#armAlarm();
        this.#firstTurnOver?.();
      },
      turnOver: () => this.#firstTurnOver?.(),
    });
    recoverInterruptedSteps(this.#store, Date.now());
    // An object that never held a run has never set an alarm: a new run's object skips the read.
    if (!this.#store.run) return;
    // A run cut off during its first turn, before its lease was written, resumes at once.
    if (this.#store.run.status === "running" && !this.#store.hasTimer("lease")) this.#store.setTimer("lease", "run", Date.now());
    void ctx.blockConcurrencyWhile(async () => {
      this.#alarm.reset(await ctx.storage.getAlarm());
      this.#armAlarm(); // any touch of the run re-arms an alarm that was lost
    });
  }

  // ---- RPC -----------------------------------------------------------------

  /**
   * Creates the run, once, and answers when its first turn is over: when the
   * handler has settled, or a timer tick later if it is still working. A second
   * call for the same run changes nothing.
   *
   * The alarm is held during the first turn, so a run that ends in it never
   * sets one; its answer reaches the fan-out only after the run's writes are
   * stored (output gate), and a crash before that leaves the fan-out's message
   * unacknowledged, so the redelivery's call re-arms the alarm of what was stored.
   */
  async start(init: StartRun): Promise<StartedRun> {
    const existing = this.#store.run;
    if (existing) return { created: false, ...startedState(existing) };
    if (!this.#config.registry.get(init.functionId)) throw new Error(`unknown function ${init.functionId}`);
    const now = init.now ?? Date.now();
    const run = newRun(init.runId, init.functionId, init.event.id, now);
    const eventJson = JSON.stringify(init.event);
    this.#driver.rememberEvent(eventJson);
    this.#store.createRun(run, eventJson);
    this.#alarm.hold();
    this.#inFirstTurn = true;
    try {
      const settled = new Promise<void>((resolve) => {
        this.#firstTurnOver = resolve;
      });
      this.#driver.wake();
      let tick: ReturnType<typeof setTimeout> | null = null;
      await Promise.race([settled, new Promise((resolve) => (tick = setTimeout(resolve, 0)))]);
      clearTimeout(tick);
    } finally {
      this.#inFirstTurn = false;
      this.#firstTurnOver = undefined;
      // The lease is written only for a run that outlives its first turn.
      if (run.status === "running") this.#store.setTimer("lease", "run", Date.now() + RUN_LEASE_MS);
      this.#alarm.release();
    }
    // The fan-out writes this state as the listing row, for a whole batch of runs at once; this object sends every later change.
    return { created: true, ...startedState(run) };
  }

  async getDetail(): Promise<RunDetail | null> {
    const run = this.#store.run;
    return run ? runDetail(run, this.#store.steps.values()) : null;
  }

  /**
   * The detail as UTF-8 JSON, for the API: bytes cross RPC at their size (a
   * string with one character past Latin-1 takes two bytes a character, and
   * a run at its state limit would pass the 32 MiB an RPC answer may hold).
   */
  async getDetailJson(): Promise<Uint8Array | null> {
    const run = this.#store.run;
    return run ? new TextEncoder().encode(runDetailJson(run, this.#store.steps.values())) : null;
  }

  /**
   * Re-runs a failed run. From its failed step: completed steps stay
   * memoized and are not re-run; every other step starts again with fresh
   * attempts. From the start: the journal is cleared. A run that is not
   * failed is left alone, so replaying the same run twice runs it once. With
   * `failure`, only that failure (the run's version when it failed, as its
   * dead letter's id ends) is replayed: a run that has failed again since is
   * left alone, `superseded`. Every answer carries the run's listing row as
   * it now stands, for the caller to write to D1 (dlq/replay.ts).
   */
  async replay(
    from: ReplayFrom = "failed-step",
    failure?: number,
  ): Promise<{ replayed: boolean; status: RunStatus; superseded?: boolean; listing: IndexMessage } | null> {
    const run = this.#store.run;
    if (!run) return null;
    // The failure's dead letter may not be in D1 yet: it is stored before the
    // reset drops what it is made of (a throw here leaves the run failed, to replay again).
    // Looked at again after each store: another replay may have run meanwhile and the run failed anew.
    let stored: number | undefined;
    while (run.status === "failed" && run.version !== stored && this.#store.hasTimer("dead-letter")) {
      const version = run.version;
      if (!(await storeDeadLetter(this.env, deadLetterFor(run, this.#store.steps.values())))) {
        throw new Error(`run ${run.id}: its dead letter could not be stored before the replay`);
      }
      stored = version;
    }
    if (run.status !== "failed") return { replayed: false, status: run.status, listing: indexRow(run) };
    if (failure !== undefined && run.version !== failure) {
      return { replayed: false, status: run.status, superseded: true, listing: indexRow(run) };
    }
    const now = Date.now();
    resetForReplay(this.#store, from, now);
    this.#store.setTimer("lease", "run", now + RUN_LEASE_MS);
    this.#syncIndexSoon();
    this.#armAlarm();
    this.#driver.wake();
    return { replayed: true, status: run.status, listing: indexRow(run) };
  }

  /**
   * Sends the run's listing row again a minute from now (unless a send is
   * already due): for the index's dead-letter consumer, handing back a row D1
   * refused through every retry of both queues.
   */
  async syncIndexLater(): Promise<void> {
    if (!this.#store.run || this.#store.timer("index-sync", "run")) return;
    this.#store.setTimer("index-sync", "run", Date.now() + INDEX_RESYNC_MS);
    this.#armAlarm();
  }

  /**
   * Sends the run's listing row again if the listing's copy (`listed`, its
   * version) is older than the run: for the sweeper, which finds rows left
   * stale when their index message was lost. An object with no run stores
   * nothing and answers `no-run`.
   */
  async syncIndexIfNewer(listed: number): Promise<IndexCheck> {
    const run = this.#store.run;
    if (!run) return "no-run";
    if (run.version <= listed) return "current";
    this.#syncIndexSoon();
    return "resent";
  }

  /** Results of dispatched steps. Idempotent per step: settled steps ignore later results. */
  async completeSteps(results: StepResult[]): Promise<void> {
    if (!this.#store.run) return;
    this.#driver.applyResults(results);
  }

  /**
   * For a steps consumer: the journal as it stood when the steps were
   * planned, and which of the requested steps it may run now. `token` is the
   * claimer's own: asking again with it (after a lost answer) is answered the same.
   */
  async claimSteps(planSeq: number, requests: ClaimRequest[], token?: string): Promise<ReplayContext | null> {
    const run = this.#store.run;
    if (!run) return null;
    let claimed: string[] = [];
    if (run.status === "running") {
      claimed = claimDispatched(this.#store, requests, Date.now() + this.#config.limits.stepTimeoutMs, token);
      this.#armAlarm();
    }
    const memo = claimed.length > 0 ? memoAsOf(this.#store, planSeq) : [];
    return { functionId: run.functionId, eventJson: this.#driver.eventJson(), attempt: run.attempt, memo, claimed };
  }

  override async alarm(): Promise<void> {
    const run = this.#store.run;
    this.#alarm.reset(null);
    if (!run) return;
    const now = Date.now();
    for (const timer of this.#store.dueTimers(now)) {
      // Each timer stays stored until its handling is done, so an instance
      // evicted while a handler awaits (onFailure, a queue send) leaves it for
      // the next alarm; it is cleared unless its handler set it again.
      // Calls that came in while an earlier handler awaited may have cleared
      // or moved it (a replay clears the failure's dead letter): only a timer
      // still set as it was is handled.
      if (this.#store.timer(timer.kind, timer.ref)?.dueAt !== timer.dueAt) continue;
      switch (timer.kind) {
        case "lease":
          if (run.status === "running") this.#store.setTimer("lease", "run", now + RUN_LEASE_MS);
          break;
        case "handler-retry":
          if (run.status === "running") {
            run.attempt += 1;
            this.#store.saveRun();
          }
          break;
        case "step-retry": {
          const s = this.#store.steps.get(timer.ref);
          if (s?.status === "retrying") {
            s.status = "planned";
            this.#store.putStep(s);
          }
          break;
        }
        case "step-lease":
          await this.#driver.leaseExpired(timer.ref, now);
          break;
        case "handler-idle":
          this.#driver.idleExpired();
          break;
        case "index-sync":
          this.#syncIndexSoon();
          break;
        case "dead-letter":
          await this.#deadLetter(timer.ref);
          break;
        case "on-failure":
          await this.#runOnFailure(timer.ref);
          break;
      }
      this.#store.clearHandledTimer(timer);
    }
    this.#armAlarm();
    this.#driver.wake();
  }

  /**
   * Sends the failure's dead letter (`run`), then, a while later, makes sure
   * D1 has it (`check`), storing it from here if the queue lost it; a step
   * that fails is tried again later, unless a replay came in meanwhile (a
   * replay stores the dead letter itself).
   */
  async #deadLetter(ref: string): Promise<void> {
    const run = this.#store.run!;
    if (run.status !== "failed") return;
    const version = run.version;
    const letter = deadLetterFor(run, this.#store.steps.values());
    const done = ref === "check" ? await storeDeadLetter(this.env, letter) : await sendDeadLetter(this.env, letter);
    if (run.status !== "failed" || run.version !== version) return;
    if (!done) this.#store.setTimer("dead-letter", ref, Date.now() + (ref === "check" ? DEAD_LETTER_CHECK_MS : INDEX_SYNC_RETRY_MS));
    else if (ref !== "check") this.#store.setTimer("dead-letter", "check", Date.now() + DEAD_LETTER_CHECK_MS);
  }

  /** Calls onFailure for the failure numbered `version`; a throw is retried under the function's retries. */
  async #runOnFailure(ref: string): Promise<void> {
    const run = this.#store.run!;
    const [version, tries] = ref.split(":").map(Number) as [number, number];
    if (run.status !== "failed" || run.version !== version) return;
    const fn = this.#driver.fn();
    if (!(await callOnFailure(fn, run, this.#driver.eventJson(), this.env)) && tries < fn.config.retries) {
      this.#store.setTimer("on-failure", `${version}:${tries + 1}`, Date.now() + retryDelayMs(tries + 1, this.#config.backoff));
    }
  }

  // ---- index and alarm -------------------------------------------------------

  /**
   * Sends the run's listing row to the index queue in the background; a timer
   * retries it if this attempt is lost. The timer takes the alarm's current
   * time when there is one soon enough, so a run that ends before its lease
   * comes due moves no alarm to sync its listing.
   */
  #syncIndexSoon(): void {
    const run = this.#store.run!;
    const now = Date.now();
    const armed = this.#alarm.at;
    const retryAt = armed !== null && armed > now && armed <= now + RUN_LEASE_MS ? armed : now + INDEX_SYNC_RETRY_MS;
    this.#store.setTimer("index-sync", "run", retryAt);
    this.#armAlarm();
    const version = run.version;
    syncRunIndex(this.env.LISTING, run).then(
      () => {
        if (this.#store.run?.version === version) {
          this.#store.clearTimer("index-sync", "run");
          this.#armAlarm();
        }
      },
      (e) => console.error(`stepflare: run ${run.id}: index sync failed, will retry:`, (e as Error).message),
    );
  }

  #armAlarm(): void {
    this.#alarm.arm();
  }
}
