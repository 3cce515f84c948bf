import { fromJson, type SerializedError } from "../../sdk/internal";
import type { FailedAttempt } from "./store";
import { isSettled, type RunFlow, type RunState, type StepState } from "./types";

/**
 * A step's status as shown: a sleep in progress is sleeping, a wait
 * waiting; in a cancelled run, a step that had not settled is cancelled
 * (its result, if it comes, is discarded).
 */
function shownStatus(run: RunState, s: StepState): string {
  if (run.status === "cancelled" && !isSettled(s.status)) return "cancelled";
  if (s.status === "running" && s.mode === "sleep") return "sleeping";
  if (s.status === "running" && s.mode === "wait") return "waiting";
  return s.status;
}

/** A step's failed attempts, oldest first, each with when it ran and its error. */
const failedAttemptsOf = (list: FailedAttempt[] | undefined) =>
  list?.length
    ? {
        failedAttempts: list.map((a) => ({
          attempt: a.n,
          ...(a.startedAt !== null ? { startedAt: iso(a.startedAt) } : {}),
          endedAt: iso(a.endedAt),
          error: publicError(a.error),
        })),
      }
    : {};

const iso = (ms: number | null): string | undefined => (ms === null ? undefined : new Date(ms).toISOString());

const publicError = (e: SerializedError & { stepId?: string }) => ({
  name: e.name,
  message: e.message,
  ...(e.code ? { code: e.code } : {}),
  ...(e.stepId ? { stepId: e.stepId } : {}),
  ...(e.stack ? { stack: e.stack } : {}),
});

/** Why a queued run waits: a concurrency limit, or its throttle (with when it may start). */
const queuedOf = (flow: RunFlow) => ({
  ...(flow.reason ? { reason: flow.reason } : {}),
  ...(flow.queuedAt !== null ? { since: iso(flow.queuedAt) } : {}),
  ...(flow.reason === "throttle" && flow.startAt !== null ? { startAt: iso(flow.startAt) } : {}),
});

export type RunDetail = ReturnType<typeof runDetail>;

type Output = NonNullable<unknown> | null;
const parsedOutput = (json: string | null): Output => fromJson(json) ?? null;

/** The run as `GET /api/v1/runs/:runId` shows it; `output` gives each stored output JSON its place in it. */
export function runDetail(
  run: RunState,
  steps: Iterable<StepState>,
  attempts: ReadonlyMap<string, FailedAttempt[]> = new Map(),
  output: (json: string | null) => Output = parsedOutput,
) {
  return {
    id: run.id,
    functionId: run.functionId,
    eventId: run.eventId,
    status: run.status,
    ...(run.status === "queued" && run.flow ? { queued: queuedOf(run.flow) } : {}),
    ...(run.status === "completed" ? { output: output(run.outputJson) } : {}),
    ...(run.error ? { error: publicError(run.error) } : {}),
    ...(run.parent ? { parent: { runId: run.parent.runId, stepKey: run.parent.stepKey } } : {}),
    attempt: run.attempt,
    startedAt: iso(run.startedAt)!,
    ...(run.endedAt !== null ? { endedAt: iso(run.endedAt) } : {}),
    ...(run.replays.length > 0
      ? {
          replays: run.replays.map((r) => ({
            at: iso(r.at),
            from: r.from,
            ...(r.previousError ? { previousError: publicError(r.previousError) } : {}),
          })),
        }
      : {}),
    steps: [...steps]
      .sort((a, b) => a.seq - b.seq)
      .map((s) => ({
        id: s.id,
        key: s.key,
        status: shownStatus(run, s),
        ...(s.mode === "sleep" ? { type: "sleep", wakeAt: iso(s.wakeAt) } : {}),
        ...(s.mode === "wait" && s.wait ? { type: "wait", wait: s.wait, timeoutAt: iso(s.wakeAt) } : {}),
        ...(s.mode === "invoke" && s.invoke
          ? {
              type: "invoke",
              invoked: { functionId: s.invoke.functionId, ...(s.invoke.runId ? { runId: s.invoke.runId } : {}) },
              timeoutAt: iso(s.wakeAt),
            }
          : {}),
        attempts: s.attempts,
        ...(s.status === "completed" ? { output: output(s.outputJson) } : {}),
        ...(s.error ? { error: publicError(s.error) } : {}),
        ...(s.startedAt !== null ? { startedAt: iso(s.startedAt) } : {}),
        ...(s.endedAt !== null ? { endedAt: iso(s.endedAt) } : {}),
        ...failedAttemptsOf(attempts.get(s.key)),
      })),
  };
}

/**
 * The run's detail as JSON text, each stored output spliced in as it is
 * stored (JSON already) rather than parsed and written again: a run at its
 * state limit is one copy of its outputs here, not two.
 */
export function runDetailJson(run: RunState, steps: Iterable<StepState>, attempts: ReadonlyMap<string, FailedAttempt[]>): string {
  const outputs: string[] = [];
  // Each output's place holds a marker; `"output":"` is a key and its value wherever it occurs, since every quote inside a string is escaped.
  const detail = runDetail(run, steps, attempts, (json) => `\u0000${outputs.push(json ?? "null") - 1}`);
  return JSON.stringify(detail).replace(/"output":"\\u0000(\d+)"/g, (_match, i: string) => `"output":${outputs[Number(i)]}`);
}
