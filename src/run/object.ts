import { DurableObject } from "cloudflare:workers";
import { compileExpression } from "../../sdk/internal";
import type { EngineConfig } from "../config";
import type { Env } from "../env";
import { compiledFlow } from "../flow/needs";
import type { ListingMessage } from "../messages/listing";
import { runnableRemote } from "../remote/registry";
import { runRetentionMs } from "../shared/retention";
import { releaseSlot } from "./admission";
import { storeDeadLetter } from "./after-failure";
import { AlarmPointer } from "./alarm";
import { deadLetterFor } from "./dead-letter";
import { type RunDetail, runDetail, runDetailJson } from "./detail";
import { RunDriver } from "./driver";
import { dropTombstone, expireRun, hasExpired } from "./expire";
import { RunFlowControl } from "./flow-control";
import { followDeadLetter, followOnFailure, followSystemEvent } from "./follow-up";
import { type ChildEnding, childEnded, notifyParent, startChild } from "./invoke";
import { type ListingCheck, listingRow, sendListingRow } from "./listing";
import { memoAsOf } from "./memo";
import type { CatchUpContext, ClaimRequest, StartedRun, StartRun } from "./rpc";
import { RunStore } from "./store";
import { fireDueTimers, type TimerHost } from "./timers";
import {
  claimDispatched,
  createRun,
  endFirstTurn,
  listingSynced,
  RUN_LEASE_MS,
  recoverInterruptedSteps,
  renewClaims,
  resetForReplay,
  resumeUnasked,
  resumeUnleased,
  scheduleListingSync,
} from "./transitions";
import { isTerminal, type ReplayRecord, type RunState, type RunStatus, type StepResult } from "./types";
import { CANCEL_KEY_PREFIX, offerCancel, offerEvent, registerCancel, registerWait, timeOutPause, type WaitAnswer } from "./waits";

export type { CatchUpContext, ClaimRequest, StartedRun, StartRun } from "./rpc";
export type ReplayFrom = ReplayRecord["from"];

const startedState = (run: RunState) => ({
  status: run.status,
  startedAt: run.startedAt,
  endedAt: run.endedAt,
  errorCode: run.error?.code ?? null,
  version: run.version,
});

/** A listing row whose send was not confirmed is sent again this much later. */
const LISTING_SYNC_RETRY_MS = 5_000;
/** How long a listing row D1 kept refusing waits before its object sends it again. */
const LISTING_RESYNC_MS = 60_000;

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
  readonly #flow: RunFlowControl;

  constructor(ctx: DurableObjectState, env: Env, config: EngineConfig) {
    super(ctx, env);
    this.#config = config;
    this.#store = new RunStore(ctx.storage);
    this.#alarm = new AlarmPointer(ctx.storage, this.#store);
    this.#driver = new RunDriver(this.#store, config, env, {
      armAlarm: () => this.#armAlarm(),
      ended: () => {
        if (!this.#inFirstTurn) this.#syncListingSoon();
        this.#armAlarm();
        this.#flow.releaseSlots();
        this.#firstTurnOver?.();
      },
      turnOver: () => this.#firstTurnOver?.(),
      statusChanged: () => {
        if (!this.#inFirstTurn) this.#syncListingSoon();
        this.#armAlarm();
        this.#flow.releaseSlots();
        if (this.#store.run?.status === "queued") void this.#flow.admit();
      },
    });
    this.#flow = new RunFlowControl({
      env,
      store: this.#store,
      driver: this.#driver,
      armAlarm: () => this.#armAlarm(),
      admitted: () => {
        this.#syncListingSoon();
        this.#driver.wake();
      },
    });
    recoverInterruptedSteps(this.#store, Date.now());
    // An object that never held a run has never set an alarm: a new run's object skips the read.
    if (!this.#store.run) return;
    resumeUnleased(this.#store, Date.now());
    resumeUnasked(this.#store, Date.now());
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
    if (existing) {
      // A redelivery whose fan-out took slots again: each is kept if the run holds or wants it, else returned.
      if (init.slots) this.#flow.keepOrReturn(init.slots);
      return { created: false, ...startedState(existing) };
    }
    if (!init.remote && !this.#config.registry.get(init.functionId)) throw new Error(`unknown function ${init.functionId}`);
    const now = init.now ?? Date.now();
    const eventJson = JSON.stringify(init.event);
    const moreEvents = (init.events ?? []).slice(1).map((e) => JSON.stringify(e));
    this.#driver.rememberEvent(eventJson, moreEvents.length === 0 ? null : `[${[eventJson, ...moreEvents].join(",")}]`);
    const fn = init.remote ? runnableRemote(init.functionId, init.remote, () => undefined) : this.#config.registry.get(init.functionId)!;
    const fnConfig = fn.config;
    const finishMs = fnConfig.timeouts?.finish;
    const cancelOn = fnConfig.cancelOn?.length;
    const flow = compiledFlow(fn);
    const run = createRun(
      this.#store,
      {
        runId: init.runId,
        functionId: init.functionId,
        eventId: init.event.id,
        acceptedAt: init.acceptedAt,
        finishMs,
        cancelOn,
        parent: init.parent,
        flow: flow ? { concurrency: flow.concurrency.length > 0, startMs: fnConfig.timeouts?.start, held: init.slots } : undefined,
      },
      eventJson,
      now,
      moreEvents,
    );
    if (init.remote) this.#store.saveRemote(init.remote);
    this.#alarm.hold();
    if (run.status === "queued") {
      // Its limits are asked at once; a run still queued is listed so, and its admit timer asks again.
      await this.#flow.admitFirst();
      if ((run.status as RunStatus) !== "running") {
        this.#alarm.release();
        return { created: true, ...startedState(run) };
      }
    }
    this.#inFirstTurn = true;
    if (init.releasesBack) this.#flow.keepReleases();
    let releases: string[] = [];
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
      if (init.releasesBack) releases = this.#flow.handBack();
      // The lease is written only for a run that outlives its first turn.
      endFirstTurn(this.#store, Date.now());
      this.#alarm.release();
    }
    // The fan-out writes this state as the listing row, for a whole batch of runs at once; this object sends every later change.
    return { created: true, ...startedState(run), ...(releases.length > 0 ? { releases } : {}) };
  }

  /** For a run not found: whether this object held one that expired (docs/operations.md, retention). */
  async expired(): Promise<boolean> {
    return !this.#store.run && (await hasExpired(this.ctx.storage));
  }

  /** The run's status, or null when this object holds no run (for flow control's singleton, on a conflict). */
  async status(): Promise<RunStatus | null> {
    return this.#store.run?.status ?? null;
  }

  async getDetail(): Promise<RunDetail | null> {
    const run = this.#store.run;
    return run ? runDetail(run, this.#store.steps.values(), this.#store.attempts()) : null;
  }

  /**
   * The detail as UTF-8 JSON, for the API: bytes cross RPC at their size (a
   * string with one character past Latin-1 takes two bytes a character, and
   * a run at its state limit would pass the 32 MiB an RPC answer may hold).
   */
  async getDetailJson(): Promise<Uint8Array | null> {
    const run = this.#store.run;
    return run ? new TextEncoder().encode(runDetailJson(run, this.#store.steps.values(), this.#store.attempts())) : null;
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
  ): Promise<{ replayed: boolean; status: RunStatus; superseded?: boolean; listing: ListingMessage } | null> {
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
    if (run.status !== "failed") return { replayed: false, status: run.status, listing: listingRow(run) };
    if (failure !== undefined && run.version !== failure) {
      return { replayed: false, status: run.status, superseded: true, listing: listingRow(run) };
    }
    const { timeouts, cancelOn } = this.#driver.fn().config;
    resetForReplay(this.#store, from, Date.now(), timeouts?.finish, cancelOn?.length);
    this.#syncListingSoon();
    this.#armAlarm();
    if ((run.status as RunStatus) === "queued") void this.#flow.admit();
    this.#driver.wake();
    return { replayed: true, status: run.status, listing: listingRow(run) };
  }

  /** For a run this one invoked (its step `stepKey`, in generation `gen`): how it ended. */
  async childEnded(stepKey: string, gen: number, ending: ChildEnding): Promise<void> {
    if (!this.#store.run) return;
    childEnded(this.#store, this.#driver, stepKey, gen, ending);
    this.#armAlarm();
  }

  /**
   * For the fan-out: an event that may resume the wait `stepKey` (its name
   * and `match` value fit the waits index). Answers whether the wait took
   * it, refused it (its `if`, an event the run already took), or is gone.
   */
  async offerEvent(stepKey: string, eventJson: string): Promise<WaitAnswer> {
    if (!this.#store.run) return "gone";
    const answer = stepKey.startsWith(CANCEL_KEY_PREFIX)
      ? offerCancel(this.#store, this.#driver, stepKey, eventJson)
      : offerEvent(this.#store, this.#driver, stepKey, eventJson);
    this.#armAlarm();
    return answer;
  }

  /**
   * Cancels the run unless it has ended: no further step runs, its timers
   * and pending steps are dropped, results still out are discarded. A run
   * already cancelled answers `cancelled: false` with its status, as does
   * one that completed or failed (the caller tells them apart). Every answer
   * carries the listing row as it now stands, for the caller to write.
   */
  async cancel(onlyIf?: string): Promise<{ cancelled: boolean; matched?: boolean; status: RunStatus; listing: ListingMessage } | null> {
    const run = this.#store.run;
    if (!run) return null;
    if (onlyIf !== undefined && !compileExpression(onlyIf, "if")({ event: JSON.parse(this.#driver.eventJson()) })) {
      return { cancelled: false, matched: false, status: run.status, listing: listingRow(run) };
    }
    const cancelled = this.#driver.cancel({ name: "RunCancelledError", code: "run_cancelled", message: "the run was cancelled" });
    return { cancelled, status: run.status, listing: listingRow(run) };
  }

  /**
   * Sends the run's listing row again a minute from now (unless a send is
   * already due): for the index's dead-letter consumer, handing back a row D1
   * refused through every retry of both queues.
   */
  async syncListingLater(): Promise<void> {
    if (!this.#store.run || this.#store.timer("listing-sync", "run")) return;
    scheduleListingSync(this.#store, Date.now() + LISTING_RESYNC_MS);
    this.#armAlarm();
  }

  /**
   * Sends the run's listing row again if the listing's copy (`listed`, its
   * version) is older than the run: for the sweeper, which finds rows left
   * stale when their index message was lost. An object with no run stores
   * nothing and answers `no-run`.
   */
  async syncListingIfNewer(listed: number): Promise<ListingCheck> {
    const run = this.#store.run;
    if (!run) return "no-run";
    if (run.version <= listed) return "current";
    this.#syncListingSoon();
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
  async claimSteps(planSeq: number, requests: ClaimRequest[], token?: string): Promise<CatchUpContext | null> {
    const run = this.#store.run;
    if (!run) return null;
    let claimed: string[] = [];
    if (run.status === "running") {
      const { stepClaimLeaseMs: leaseMs, stepTimeoutMs: timeoutMs } = this.#config.limits;
      claimed = claimDispatched(this.#store, requests, { now: Date.now(), leaseMs, timeoutMs }, token);
      this.#armAlarm();
    }
    const memo = claimed.length > 0 ? memoAsOf(this.#store, planSeq) : [];
    const batchJson = this.#driver.batchJson();
    const remote = this.#driver.remoteTarget();
    return {
      functionId: run.functionId,
      ...(remote ? { remote } : {}),
      eventJson: this.#driver.eventJson(),
      ...(batchJson === null ? {} : { batchJson }),
      attempt: run.attempt,
      memo,
      claimed,
    };
  }

  /**
   * For a steps consumer still working on the steps it claimed with `token`:
   * renews those claims' leases. Answers the keys it still holds.
   */
  async renewClaims(token: string, claims: { key: string; attempt: number }[]): Promise<string[]> {
    if (!this.#store.run) return [];
    const held = renewClaims(this.#store, token, claims, Date.now(), this.#config.limits.stepClaimLeaseMs);
    this.#armAlarm();
    return held;
  }

  /**
   * For a concurrency limit's object: a slot of the limit `name`, given to
   * this run's stay in the queue `ticket`, or its lease lapsed and the object
   * asks whether the run still holds it. Answers true if the run takes or holds
   * it; false frees it for the next run (the run ended, sleeps, or moved on).
   */
  async offerSlot(name: string, ticket: number): Promise<boolean> {
    return this.#flow.offerSlot(name, ticket);
  }

  override async alarm(): Promise<void> {
    this.#alarm.reset(null);
    if (!this.#store.run) return dropTombstone(this.ctx.storage);
    const host: TimerHost = {
      store: this.#store,
      driver: this.#driver,
      deadLetter: (ref) => followDeadLetter(this.env, this.#store, ref),
      onFailure: (ref) => followOnFailure(this.env, this.#store, this.#driver, this.#config, ref),
      systemEvent: (ref) => followSystemEvent(this.env, this.#store, this.#driver, this.#config, ref),
      syncListing: () => this.#syncListingSoon(),
      timeOutPause: (key) => timeOutPause(this.env, this.#store, this.#driver, key),
      registerWait: (key) => registerWait(this.env, this.#store, this.#driver, key),
      registerCancel: (index) => registerCancel(this.env, this.#store, this.#driver, index),
      startChild: (key) => startChild(this.env, this.#config, this.#store, this.#driver, key),
      notifyParent: (ref) => notifyParent(this.env, this.#store, ref),
      expire: async (now) => {
        const run = this.#store.run;
        if (!run || !isTerminal(run.status)) return;
        const keepMs = runRetentionMs(this.#config.retention, run.status as "completed" | "failed" | "cancelled");
        // The tombstone's alarm is set by expireRun; no timer of the run is left to point at.
        if (await expireRun(this.env, this.#store, this.ctx.storage, now, keepMs)) this.#alarm.reset(null);
      },
      admit: () => this.#flow.admit(),
      releaseSlot: (ref) => releaseSlot(this.env, this.#store.run!.id, ref),
    };
    await fireDueTimers(host, Date.now());
    this.#armAlarm();
    this.#driver.wake();
  }

  // ---- listing and alarm -----------------------------------------------------

  /**
   * Sends the run's listing row to the index queue in the background; a timer
   * retries it if this attempt is lost. The timer takes the alarm's current
   * time when there is one soon enough, so a run that ends before its lease
   * comes due moves no alarm to sync its listing.
   */
  #syncListingSoon(): void {
    const run = this.#store.run!;
    const now = Date.now();
    const armed = this.#alarm.at;
    const retryAt = armed !== null && armed > now && armed <= now + RUN_LEASE_MS ? armed : now + LISTING_SYNC_RETRY_MS;
    scheduleListingSync(this.#store, retryAt);
    this.#armAlarm();
    const version = run.version;
    sendListingRow(this.env, run).then(
      () => {
        if (this.#store.run?.version === version) {
          listingSynced(this.#store);
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
