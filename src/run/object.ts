import { DurableObject } from "cloudflare:workers";
import { type SerializedError, serializeError } from "../../sdk/errors";
import { Execution, type ExecutionOutcome, type FoundStep } from "../../sdk/execution";
import type { StepflareFunction } from "../../sdk/function";
import { checkOutputSize, fromJson, toJson } from "../../sdk/json";
import type { EngineConfig } from "../config";
import type { Env } from "../env";
import { sendAll } from "../shared/queue-batches";
import type { StepMessage } from "../steps/message";
import { callOnFailure, sendDeadLetter } from "./after-failure";
import { AlarmPointer } from "./alarm";
import { retryDelayMs } from "./backoff";
import { decideHandlerError, decideStepResult, failedResult } from "./decide";
import { type RunDetail, runDetail } from "./detail";
import { syncRunIndex } from "./index-sync";
import {
  claimDispatched,
  commitStep,
  memoAsOf,
  memoOf,
  newRun,
  newStep,
  recoverInterruptedSteps,
  resetForReplay,
  startAttempt,
} from "./journal";
import { RunStore } from "./store";
import { isTerminal, type ReplayRecord, type RunState, type RunStatus, type StepResult, type StepState } from "./types";

export type ReplayFrom = ReplayRecord["from"];

import { runLogger } from "./logger";
import type { ReplayContext, StartedRun, StartRun } from "./rpc";

export type { ReplayContext, StartedRun, StartRun } from "./rpc";

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

interface Live {
  exec: Execution;
  /** Unsettled steps the live handler is awaiting, by key. */
  pending: Map<string, FoundStep>;
}

/**
 * One run: its event, status and step journal in SQLite, its timers behind
 * the single alarm, and, while it is making progress, a live execution of
 * the handler. Sequential steps run here, one after the other, without
 * re-running the handler; steps found together are dispatched to the steps
 * queue and the object stays free while they run elsewhere.
 */
export class StepflareRunObject extends DurableObject<Env> {
  readonly #config: EngineConfig;
  readonly #store: RunStore;
  #live: Live | undefined;
  readonly #alarm: AlarmPointer;
  #eventJson: string | undefined;
  /** True while start() waits for the run's first turn: a change then reaches the listing through start()'s answer. */
  #inFirstTurn = false;
  #firstTurnOver: (() => void) | undefined;

  constructor(ctx: DurableObjectState, env: Env, config: EngineConfig) {
    super(ctx, env);
    this.#config = config;
    this.#store = new RunStore(ctx.storage.sql);
    this.#alarm = new AlarmPointer(ctx.storage, this.#store);
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
    this.#eventJson = JSON.stringify(init.event);
    this.#store.createRun(run, this.#eventJson);
    this.#alarm.hold();
    this.#inFirstTurn = true;
    try {
      const settled = new Promise<void>((resolve) => {
        this.#firstTurnOver = resolve;
      });
      this.#wake();
      await Promise.race([settled, new Promise((resolve) => setTimeout(resolve, 0))]);
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
   * Re-runs a failed run. From its failed step: completed steps stay
   * memoized and are not re-run; every other step starts again with fresh
   * attempts. From the start: the journal is cleared. A run that is not
   * failed is left alone, so replaying the same run twice runs it once.
   */
  async replay(from: ReplayFrom = "failed-step"): Promise<{ replayed: boolean; status: RunStatus } | null> {
    const run = this.#store.run;
    if (!run) return null;
    if (run.status !== "failed") return { replayed: false, status: run.status };
    const now = Date.now();
    resetForReplay(this.#store, from, now);
    this.#store.setTimer("lease", "run", now + RUN_LEASE_MS);
    this.#syncIndexSoon();
    this.#armAlarm();
    this.#wake();
    return { replayed: true, status: run.status };
  }

  /** Results of dispatched steps. Idempotent per step: settled steps ignore later results. */
  async completeSteps(results: StepResult[]): Promise<void> {
    if (!this.#store.run) return;
    this.#applyResults(results);
  }

  /**
   * For a steps consumer: the journal as it stood when the steps were
   * planned, and which of the requested steps it may run now.
   */
  async claimSteps(planSeq: number, requests: { key: string; attempt: number }[]): Promise<ReplayContext | null> {
    const run = this.#store.run;
    if (!run) return null;
    let claimed: string[] = [];
    if (run.status === "running") {
      claimed = claimDispatched(this.#store, requests, Date.now() + this.#config.limits.stepTimeoutMs);
      this.#armAlarm();
    }
    const memo = claimed.length > 0 ? memoAsOf(this.#store, planSeq) : [];
    return { functionId: run.functionId, eventJson: this.#event(), attempt: run.attempt, memo, claimed };
  }

  override async alarm(): Promise<void> {
    const run = this.#store.run;
    this.#alarm.reset(null);
    if (!run) return;
    const now = Date.now();
    for (const timer of this.#store.takeDueTimers(now)) {
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
          await this.#leaseExpired(timer.ref, now);
          break;
        case "index-sync":
          this.#syncIndexSoon();
          break;
        case "dead-letter":
          await this.#sendDeadLetter();
          break;
        case "on-failure":
          await this.#runOnFailure(timer.ref);
          break;
      }
    }
    this.#armAlarm();
    this.#wake();
  }

  // ---- driving the handler ---------------------------------------------------

  #fn(): StepflareFunction {
    const run = this.#store.run;
    const fn = run && this.#config.registry.get(run.functionId);
    if (!fn) throw new Error(`function ${run?.functionId} is not registered with this engine`);
    return fn;
  }

  #event(): string {
    this.#eventJson ??= this.#store.eventJson();
    return this.#eventJson;
  }

  /** Makes progress if progress is possible: starts (or replays) the handler, or schedules found steps. */
  #wake(): void {
    const run = this.#store.run;
    if (run?.status !== "running") return;
    if (this.#live) return this.#schedule();
    if (this.#store.hasTimer("handler-retry")) return;
    this.#startExecution();
  }

  #startExecution(): void {
    const run = this.#store.run!;
    const live: Live = { exec: undefined as unknown as Execution, pending: new Map() };
    live.exec = new Execution(
      this.#fn().handler,
      {
        event: JSON.parse(this.#event()),
        env: this.env as unknown as Record<string, unknown>,
        runId: run.id,
        attempt: run.attempt,
        logger: runLogger(run),
        memo: memoOf(this.#store),
      },
      { onFound: (found) => this.#onFound(live, found), onSettled: (outcome) => this.#onSettled(live, outcome) },
    );
    this.#live = live;
    live.exec.start();
  }

  #onFound(live: Live, found: FoundStep[]): void {
    if (this.#live !== live) return;
    const fn = this.#fn();
    // New steps are written when they start, or after scheduling if they wait: one write, not two.
    const created: StepState[] = [];
    const writeWaiting = () => {
      for (const s of created) if (s.status === "planned") this.#store.putStep(s);
    };
    for (const f of found) {
      let s = this.#store.steps.get(f.key);
      if (!s) {
        const limit = this.#config.limits.maxStepsPerRun;
        if (this.#store.steps.size >= limit) {
          writeWaiting();
          return this.#failRun({
            name: "StepflareError",
            code: "step_limit_exceeded",
            message: `step "${f.id}" would be step ${limit + 1} of this run; the limit is ${limit}`,
          });
        }
        s = newStep(f.key, f.id, this.#store.nextSeq, f.retries ?? fn.config.retries);
        this.#store.addStep(s);
        created.push(s);
      }
      if (s.status === "completed") f.resolve(fromJson(s.outputJson));
      else if (s.status === "failed") f.reject(s.error ?? { name: "Error", message: "step failed" });
      else live.pending.set(f.key, f);
    }
    this.#schedule();
    writeWaiting();
  }

  /**
   * Decides how the found steps run: one step alone runs here, inline; two or
   * more, or any step while others are out, go to the steps queue.
   */
  #schedule(): void {
    const live = this.#live;
    if (!live || this.#store.run?.status !== "running") return;
    const ready: StepState[] = [];
    let inFlight = 0;
    for (const key of live.pending.keys()) {
      const s = this.#store.steps.get(key);
      if (s?.status === "planned") ready.push(s);
      else if (s?.status === "running") inFlight++;
    }
    if (ready.length === 0) return;
    if (inFlight === 0 && ready.length === 1) void this.#runInline(live, ready[0]!);
    else void this.#dispatch(ready);
  }

  async #runInline(live: Live, s: StepState): Promise<void> {
    const found = live.pending.get(s.key);
    if (!found) return;
    // An inline step that never settles fails its attempt at the step timeout, as a dispatched one does.
    startAttempt(this.#store, s, "inline", Date.now(), Date.now() + this.#config.limits.stepTimeoutMs);
    this.#armAlarm();
    const attempt = s.attempts;
    let result: StepResult;
    try {
      const output = await found.fn({ attempt: attempt - 1 });
      result = { key: s.key, attempt, ok: true, outputJson: toJson(output) ?? null };
    } catch (e) {
      result = failedResult(s.key, attempt, e);
    }
    this.#applyResults([result]);
  }

  async #dispatch(steps: StepState[]): Promise<void> {
    const run = this.#store.run!;
    const now = Date.now();
    const messages: StepMessage[] = [];
    for (const s of steps) {
      startAttempt(this.#store, s, "queue", now, now + this.#config.limits.stepDispatchLeaseMs);
      messages.push({ v: 1, runId: run.id, key: s.key, attempt: s.attempts, planSeq: run.settleSeq });
    }
    this.#armAlarm();
    try {
      await sendAll(this.env.STEPS, messages);
    } catch (e) {
      // The steps are planned durably; their leases re-dispatch them soon.
      console.error(`stepflare: run ${run.id}: steps queue send failed:`, (e as Error).message);
      for (const m of messages) this.#store.setTimer("step-lease", m.key, Date.now() + 1000);
      this.#armAlarm();
    }
  }

  /**
   * A step's lease ran out. Inline, or dispatched and claimed: the attempt
   * timed out. Dispatched and never claimed: the message was lost, so it is
   * sent again without spending an attempt.
   */
  async #leaseExpired(key: string, now: number): Promise<void> {
    const s = this.#store.steps.get(key);
    const run = this.#store.run!;
    if (s?.status !== "running" || s.mode === null || run.status !== "running") return;
    if (s.mode === "inline" || s.claimedAttempt === s.attempts) {
      this.#applyResults([
        {
          key,
          attempt: s.attempts,
          ok: false,
          error: {
            name: "StepTimeoutError",
            code: "step_timeout",
            message: `step "${s.id}" sent no result within ${this.#config.limits.stepTimeoutMs} ms`,
          },
          nonRetriable: false,
        },
      ]);
      return;
    }
    this.#store.setTimer("step-lease", key, now + this.#config.limits.stepDispatchLeaseMs);
    const message: StepMessage = { v: 1, runId: run.id, key, attempt: s.attempts, planSeq: s.planSeq ?? 0 };
    await sendAll(this.env.STEPS, [message]).catch((e) =>
      console.error(`stepflare: run ${run.id}: re-dispatch failed:`, (e as Error).message),
    );
  }

  /** Commits step results to the journal and settles what the live handler awaits. */
  #applyResults(results: StepResult[]): void {
    const run = this.#store.run!;
    const now = Date.now();
    const { backoff, limits } = this.#config;
    let progressed = false;
    for (const result of results) {
      const s = this.#store.steps.get(result.key);
      const decision = decideStepResult(s, result, { now, backoff, maxOutputBytes: limits.maxStepOutputBytes });
      if (!s || decision.type === "ignore") continue;
      if (decision.type === "complete" && run.stateBytes + decision.bytes > limits.maxRunStateBytes) {
        return this.#failRun({
          name: "StepflareError",
          code: "run_state_too_large",
          message: `step "${s.id}" would bring this run's stored outputs to ${run.stateBytes + decision.bytes} bytes; the limit is ${limits.maxRunStateBytes}`,
        });
      }
      commitStep(this.#store, s, decision, now);
      if (decision.type === "retry") continue;
      progressed = true;
      const pending = this.#live?.pending.get(s.key);
      this.#live?.pending.delete(s.key);
      if (decision.type === "complete") pending?.resolve(fromJson(decision.outputJson));
      else pending?.reject(decision.error);
    }
    if (progressed) this.#store.saveRun();
    this.#armAlarm();
    if (progressed && !this.#live) this.#wake();
  }

  #onSettled(live: Live, outcome: ExecutionOutcome): void {
    if (this.#live !== live) return;
    this.#live = undefined;
    const run = this.#store.run!;
    if (outcome.type === "returned") {
      let outputJson: string | undefined;
      try {
        outputJson = toJson(outcome.output);
        checkOutputSize(outputJson, this.#config.limits.maxRunOutputBytes, "output_too_large", "the run's output");
      } catch (e) {
        return this.#failRun(serializeError(e));
      }
      return this.#endRun("completed", { outputJson: outputJson ?? null });
    }
    const decision = decideHandlerError(outcome.error, {
      attempt: run.attempt,
      retries: this.#fn().config.retries,
      now: Date.now(),
      backoff: this.#config.backoff,
    });
    if (decision.type === "fail") return this.#failRun(decision.error);
    this.#store.setTimer("handler-retry", "run", decision.at);
    this.#armAlarm();
    this.#firstTurnOver?.();
  }

  #failRun(error: SerializedError & { stepId?: string }): void {
    this.#endRun("failed", { error });
  }

  #endRun(status: "completed" | "failed", result: { outputJson?: string | null; error?: RunState["error"] }): void {
    const run = this.#store.run!;
    if (isTerminal(run.status)) return;
    this.#live?.exec.abandon();
    this.#live = undefined;
    Object.assign(run, {
      status,
      outputJson: result.outputJson ?? null,
      error: result.error ?? null,
      endedAt: Date.now(),
      version: run.version + 1,
    });
    this.#store.saveRun();
    for (const kind of ["lease", "handler-retry", "step-retry", "step-lease"] as const) this.#store.clearTimers(kind);
    if (status === "failed") {
      // The dead letter and onFailure go out from timers, so they survive an eviction right here;
      // a run fails once, so each happens once per failure.
      this.#store.setTimer("dead-letter", "run", Date.now());
      if (this.#fn().onFailure) this.#store.setTimer("on-failure", `${run.version}:0`, Date.now());
    }
    if (!this.#inFirstTurn) this.#syncIndexSoon();
    this.#armAlarm();
    this.#firstTurnOver?.();
  }

  async #sendDeadLetter(): Promise<void> {
    if (!(await sendDeadLetter(this.env, this.#store.run!, this.#store.steps.values()))) {
      this.#store.setTimer("dead-letter", "run", Date.now() + INDEX_SYNC_RETRY_MS);
    }
  }

  /** Calls onFailure for the failure numbered `version`; a throw is retried under the function's retries. */
  async #runOnFailure(ref: string): Promise<void> {
    const run = this.#store.run!;
    const [version, tries] = ref.split(":").map(Number) as [number, number];
    if (run.status !== "failed" || run.version !== version) return;
    const fn = this.#fn();
    if (!(await callOnFailure(fn, run, this.#event(), this.env)) && tries < fn.config.retries) {
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
    syncRunIndex(this.env.INDEX, run).then(
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
