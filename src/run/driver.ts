import {
  checkOutputSize,
  Execution,
  type ExecutionOutcome,
  type FoundStep,
  fromJson,
  type StepflareFunction,
  serializeError,
  toJson,
} from "../../sdk/internal";
import type { AnyHandler } from "../../sdk/types";
import type { EngineConfig } from "../config";
import type { Env } from "../env";
import { planMessages } from "../messages/steps";
import { remoteHandler } from "../remote/handler";
import { callOptions } from "../remote/keys";
import { runnableRemote } from "../remote/registry";
import type { RemoteTarget } from "../remote/target";
import { sendSteps } from "../shared/queue-shards";
import { runRetentionMs } from "../shared/retention";
import { awaitsClaim } from "./claims";
import { attemptStep, decideHandlerError, decideStepResult } from "./decide";
import { runLogger } from "./logger";
import { memoOf } from "./memo";
import { performerFor } from "./perform";
import { stateBytesAfter, stateGrace } from "./state-limit";
import { stepLeaseExpired } from "./step-lease";
import type { RunStore } from "./store";
import {
  addFoundStep,
  clearHandlerIdle,
  commitStep,
  endRun,
  endSettlement,
  extendStepLease,
  keepPlanned,
  pauseRun,
  resumeRun,
  scheduleHandlerRetry,
  startAttempt,
  startInvoke,
  startSleep,
  startWait,
  watchHandlerIdle,
} from "./transitions";
import { generationOf, isTerminal, type RunError, type StepResult, type StepState } from "./types";

interface Live {
  exec: Execution;
  /** Unsettled steps the live handler is awaiting, by key. */
  pending: Map<string, FoundStep>;
}

/** What the driver asks of the run's object. */
export interface DriverHooks {
  /** Point the alarm at the earliest timer. */
  armAlarm(): void;
  /** The run just ended, completed or failed, and its journal says so. */
  ended(): void;
  /** The handler settled without ending the run (a retry is scheduled). */
  turnOver(): void;
  /** The run went to sleep, or woke, without ending: its listing row changed. */
  statusChanged(): void;
}

/**
 * Drives a run's handler: keeps one live execution of it while the run makes
 * progress, runs a step found alone inline and dispatches steps found
 * together to the steps queue, commits results to the journal and settles
 * what the handler awaits, and ends the run. It decides and writes through
 * the run's store; the object around it owns the RPC surface, the alarm and
 * what happens after a run ends.
 */
export class RunDriver {
  readonly #store: RunStore;
  readonly #config: EngineConfig;
  readonly #env: Env;
  readonly #hooks: DriverHooks;
  #live: Live | undefined;
  #eventJson: string | undefined;
  #batchJson: string | null | undefined;
  #remote: RemoteTarget | null | undefined;

  constructor(store: RunStore, config: EngineConfig, env: Env, hooks: DriverHooks) {
    this.#store = store;
    this.#config = config;
    this.#env = env;
    this.#hooks = hooks;
  }

  /** Remembers the event as stored, so a new run does not read it back. */
  rememberEvent(json: string, batchJson: string | null = null): void {
    this.#eventJson = json;
    this.#batchJson = batchJson;
  }

  /** The run's function: the engine's own, or one another app serves. */
  fn(): StepflareFunction {
    const run = this.#store.run;
    const remote = this.remoteTarget();
    if (run && remote) return runnableRemote(run.functionId, remote, this.#remoteHandler(new Set(), false));
    const fn = run && this.#config.registry.get(run.functionId);
    if (!fn) throw new Error(`function ${run?.functionId} is not registered with this engine`);
    return fn;
  }

  /** Where a remote function's run calls it; null for the engine's own. */
  remoteTarget(): RemoteTarget | null {
    if (this.#remote === undefined) this.#remote = this.#store.remoteTarget();
    return this.#remote;
  }

  #remoteHandler(journal: ReadonlySet<string>, runAhead: boolean): AnyHandler {
    return remoteHandler(this.remoteTarget()!, { journal, runAhead, options: () => callOptions(this.#env, this.#config) });
  }

  /** The run's event, as stored. */
  eventJson(): string {
    this.#eventJson ??= this.#store.eventJson();
    return this.#eventJson;
  }

  /** A batch's events as a JSON array, as stored; null for a run of one event. */
  batchJson(): string | null {
    if (this.#batchJson === undefined) this.#batchJson = this.#store.batchJson();
    return this.#batchJson;
  }

  /** Makes progress if progress is possible: starts the handler (a catch-up, if steps are memoized), or schedules found steps. */
  wake(): void {
    const run = this.#store.run;
    if (run?.status !== "running") return;
    if (this.#live) return this.#schedule();
    if (this.#store.hasTimer("handler-retry")) return;
    this.#startExecution();
  }

  #startExecution(): void {
    const run = this.#store.run!;
    const live: Live = { exec: undefined as unknown as Execution, pending: new Map() };
    const batch = this.batchJson();
    const memo = memoOf(this.#store);
    live.exec = new Execution(
      // A remote function may let the app run ahead only once the handler has caught up to this journal.
      this.remoteTarget() ? this.#remoteHandler(new Set(memo.keys()), true) : this.fn().handler,
      {
        event: JSON.parse(this.eventJson()),
        ...(batch === null ? {} : { events: JSON.parse(batch) }),
        env: this.#env as unknown as Record<string, unknown>,
        runId: run.id,
        attempt: run.attempt,
        logger: runLogger(run),
        memo,
      },
      { onFound: (found) => this.#onFound(live, found), onSettled: (outcome) => this.#onSettled(live, outcome) },
    );
    this.#live = live;
    live.exec.start();
    this.#watchIdle();
  }

  /**
   * Keeps the handler-idle timer while the live handler awaits no step: the
   * handler is then waiting on its own work (a fetch outside any step, a
   * promise that never settles), which has no lease of its own. Volatile: a
   * new instance catches the handler up and watches it again.
   */
  #watchIdle(): void {
    const live = this.#live;
    if (live && live.pending.size === 0) {
      if (watchHandlerIdle(this.#store, Date.now() + this.#config.limits.stepTimeoutMs)) this.#hooks.armAlarm();
    } else clearHandlerIdle(this.#store);
  }

  /**
   * The handler awaited nothing but its own work for a step timeout: a
   * handler error (handler_timeout), retried under the function's retries
   * like any other error outside a step.
   */
  idleExpired(): void {
    const live = this.#live;
    if (!live || live.pending.size > 0) return;
    live.exec.abandon();
    const ms = this.#config.limits.stepTimeoutMs;
    const error = Object.assign(new Error(`the handler awaited work outside any step for ${ms} ms without settling`), {
      name: "HandlerTimeoutError",
      code: "handler_timeout",
    });
    this.#onSettled(live, { type: "threw", error });
  }

  #onFound(live: Live, found: FoundStep[]): void {
    if (this.#live !== live) return;
    const fn = this.fn();
    // New steps are written when they start, or after scheduling if they wait: one write, not two.
    const created: StepState[] = [];
    const writeWaiting = () => {
      for (const s of created) keepPlanned(this.#store, s);
    };
    const now = Date.now();
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
        s = addFoundStep(this.#store, f.key, f.id, f.retries ?? fn.config.retries);
        created.push(s);
      }
      if (f.until !== undefined && s.status === "planned") {
        if (f.wait) startWait(this.#store, s, f.wait, f.until, now);
        else if (f.invoke) startInvoke(this.#store, s, f.invoke, f.until, now);
        else startSleep(this.#store, s, f.until, now);
      }
      if (s.status === "completed") f.resolve(fromJson(s.outputJson), s.settleSeq ?? undefined);
      else if (s.status === "failed") f.reject(s.error ?? { name: "Error", message: "step failed" }, s.settleSeq ?? undefined);
      else live.pending.set(f.key, f);
    }
    this.#schedule();
    writeWaiting();
    this.#watchIdle();
    this.#pauseIfOnlyPaused();
  }

  /** The live handler awaits nothing but sleeps and waits: the run pauses until one of them ends. */
  #pauseIfOnlyPaused(): void {
    const live = this.#live;
    if (!live || live.pending.size === 0) return;
    let waiting = false;
    for (const key of live.pending.keys()) {
      const mode = this.#store.steps.get(key)?.mode;
      if (mode === "wait" || mode === "invoke") waiting = true;
      else if (mode !== "sleep") return;
    }
    if (pauseRun(this.#store, waiting ? "waiting" : "sleeping")) this.#hooks.statusChanged();
  }

  /**
   * A sleep's time came, or a wait's timeout (it answers null), or an event
   * that resumes a wait (`eventJson`): the step completes, and a paused run
   * runs again. Answers whether it did.
   */
  /**
   * An invoke's child ended, or the invoke timed out: the step settles with
   * `result` (the child's output, or invoke_failed / invoke_timeout), and a
   * paused run runs again. Answers whether it did.
   */
  endInvoke(key: string, result: { ok: true; outputJson: string | null } | { ok: false; error: RunError }): boolean {
    const s = this.#store.steps.get(key);
    if (s?.status !== "running" || s.mode !== "invoke") return false;
    if (!this.#resume()) return false;
    const gen = generationOf(this.#store.run!);
    this.applyResults([
      result.ok
        ? { key, attempt: s.attempts, ok: true, outputJson: result.outputJson, gen }
        : { key, attempt: s.attempts, ok: false, error: result.error, nonRetriable: true, gen },
    ]);
    return true;
  }

  endPause(key: string, eventJson: string | null = null): boolean {
    const s = this.#store.steps.get(key);
    if (s?.status !== "running" || (s.mode !== "sleep" && s.mode !== "wait")) return false;
    if (eventJson !== null && s.mode !== "wait") return false;
    if (!this.#resume()) return false;
    this.applyResults([{ key, attempt: s.attempts, ok: true, outputJson: eventJson, gen: generationOf(this.#store.run!) }]);
    return true;
  }

  /**
   * A paused run resumes: it runs again, or, under a concurrency limit,
   * queues for a slot. A queued run keeps no live handler (no code of it runs
   * without a slot): the step still settles in the journal, and the handler
   * catches up to it once the run is admitted. Answers whether the step may settle.
   */
  #resume(): boolean {
    if (resumeRun(this.#store, Date.now())) this.#hooks.statusChanged();
    const status = this.#store.run?.status;
    if (status === "queued") this.#dropLive();
    return status === "running" || status === "queued";
  }

  #dropLive(): void {
    this.#live?.exec.abandon();
    this.#live = undefined;
    clearHandlerIdle(this.#store);
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
      else if (s?.status === "running" && (s.mode === "inline" || s.mode === "queue")) inFlight++;
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
    this.#hooks.armAlarm();
    const gen = generationOf(this.#store.run!);
    const perform = performerFor(this.#env, this.#config, this.#store.run!.id);
    const result = await attemptStep(found, s.attempts, this.#config.limits.maxStepOutputBytes, perform);
    this.applyResults([{ ...result, gen }]);
  }

  async #dispatch(steps: StepState[]): Promise<void> {
    const run = this.#store.run!;
    const now = Date.now();
    for (const s of steps) startAttempt(this.#store, s, "queue", now, now + this.#config.limits.stepDispatchLeaseMs);
    const planned = steps.map((s) => ({ key: s.key, attempt: s.attempts }));
    this.#hooks.armAlarm();
    try {
      await sendSteps(this.#env, planMessages({ runId: run.id, planSeq: run.settleSeq, gen: generationOf(run) }, planned));
    } catch (e) {
      // The steps are planned durably; their leases re-dispatch them soon. Only
      // those not claimed meanwhile (a chunk of the send may have gone out): a
      // claimed step's lease is its running attempt's timeout.
      console.error(`stepflare: run ${run.id}: steps queue send failed:`, (e as Error).message);
      for (const m of planned) {
        if (awaitsClaim(this.#store.steps.get(m.key), m.attempt)) extendStepLease(this.#store, m.key, Date.now() + 1000);
      }
      this.#hooks.armAlarm();
    }
  }

  /** A step's lease ran out: see step-lease.ts. */
  leaseExpired(key: string, now: number): Promise<void> {
    return stepLeaseExpired({ store: this.#store, config: this.#config, env: this.#env, apply: (r) => this.applyResults(r) }, key, now);
  }

  /** Commits step results to the journal and settles what the live handler awaits. */
  applyResults(results: StepResult[]): void {
    const run = this.#store.run!;
    if (run.status === "cancelled") return; // a cancelled run takes no result
    const now = Date.now();
    const { backoff, limits } = this.#config;
    let progressed = false;
    for (const result of results) {
      const s = this.#store.steps.get(result.key);
      let decision = decideStepResult(s, result, {
        now,
        backoff,
        gen: generationOf(run),
        runEnded: isTerminal(run.status),
      });
      if (!s || decision.type === "ignore") continue;
      // An output or an error (a caught failure, an attempt's error kept for its retry) counts alike.
      const stateBytes = stateBytesAfter(run, s, decision);
      if (stateBytes > limits.maxRunStateBytes + stateGrace(this.#store)) {
        // The step fails with the error too, so it is not left running in the failed run's journal.
        const error = {
          name: "StepflareError",
          code: "run_state_too_large",
          message: `step "${s.id}" would bring this run's stored outputs and errors to ${stateBytes} bytes; the limit is ${limits.maxRunStateBytes}`,
        };
        decision = { type: "fail", error };
        commitStep(this.#store, s, decision, now);
        this.#failRun({ ...error, stepId: s.id, stepKey: s.key });
      } else commitStep(this.#store, s, decision, now);
      if (decision.type === "retry") continue;
      progressed = true;
      const pending = this.#live?.pending.get(s.key);
      this.#live?.pending.delete(s.key);
      if (decision.type === "complete") pending?.resolve(fromJson(decision.outputJson), s.settleSeq ?? undefined);
      else pending?.reject(decision.error, s.settleSeq ?? undefined);
    }
    if (progressed) endSettlement(this.#store);
    this.#watchIdle();
    this.#pauseIfOnlyPaused();
    this.#hooks.armAlarm();
    if (progressed && !this.#live) this.wake();
  }

  #onSettled(live: Live, outcome: ExecutionOutcome): void {
    if (this.#live !== live) return;
    this.#live = undefined;
    clearHandlerIdle(this.#store);
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
      retries: this.fn().config.retries,
      now: Date.now(),
      backoff: this.#config.backoff,
    });
    if (decision.type === "fail") return this.#failRun(decision.error);
    scheduleHandlerRetry(this.#store, decision.at);
    this.#hooks.armAlarm();
    this.#hooks.turnOver();
  }

  #failRun(error: RunError): void {
    this.#endRun("failed", { error });
  }

  /** Cancels the run (the API, or its finish timeout): no further step runs, and results still out are discarded. */
  cancel(error: RunError): boolean {
    if (isTerminal(this.#store.run!.status)) return false;
    this.#endRun("cancelled", { error });
    return true;
  }

  #endRun(status: "completed" | "failed" | "cancelled", result: { outputJson?: string | null; error?: RunError }): void {
    if (isTerminal(this.#store.run!.status)) return;
    this.#dropLive();
    const retainMs = runRetentionMs(this.#config.retention, status);
    endRun(this.#store, status, result, Date.now(), this.fn().onFailure !== undefined, retainMs);
    this.#hooks.ended();
  }
}
