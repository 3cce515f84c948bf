import type { SerializedError } from "../../sdk/errors";
import { fromJson } from "../../sdk/json";
import type { RunState, StepState } from "./types";

const iso = (ms: number | null): string | undefined => (ms === null ? undefined : new Date(ms).toISOString());

const publicError = (e: SerializedError & { stepId?: string }) => ({
  name: e.name,
  message: e.message,
  ...(e.code ? { code: e.code } : {}),
  ...(e.stepId ? { stepId: e.stepId } : {}),
  ...(e.stack ? { stack: e.stack } : {}),
});

export type RunDetail = ReturnType<typeof runDetail>;

/** The run as `GET /api/v1/runs/:runId` shows it. */
export function runDetail(run: RunState, steps: Iterable<StepState>) {
  return {
    id: run.id,
    functionId: run.functionId,
    eventId: run.eventId,
    status: run.status,
    ...(run.status === "completed" ? { output: fromJson(run.outputJson) ?? null } : {}),
    ...(run.error ? { error: publicError(run.error) } : {}),
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
        status: s.status,
        attempts: s.attempts,
        ...(s.status === "completed" ? { output: fromJson(s.outputJson) ?? null } : {}),
        ...(s.error ? { error: publicError(s.error) } : {}),
        ...(s.startedAt !== null ? { startedAt: iso(s.startedAt) } : {}),
        ...(s.endedAt !== null ? { endedAt: iso(s.endedAt) } : {}),
      })),
  };
}
