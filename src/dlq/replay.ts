import type { Env } from "../env";
import type { ReplayFrom } from "../run/object";

const MARK_REPLAYED = `
UPDATE dead_letters SET replayed_at = ?2, replay_count = replay_count + 1
WHERE source = 'run' AND replayed_at IS NULL AND run_id IN (SELECT value FROM json_each(?1))`;

export interface ReplayOutcome {
  runId: string;
  replayed: boolean;
  status: string | null;
}

/**
 * Replays runs through their objects, a bounded number at a time, and marks
 * their dead letters replayed. An object only replays a run that is failed,
 * so overlapping or repeated replays never run anything twice.
 */
export async function replayRuns(env: Env, runIds: string[], from: ReplayFrom, concurrency = 16): Promise<ReplayOutcome[]> {
  const outcomes: ReplayOutcome[] = [];
  let next = 0;
  const worker = async () => {
    while (next < runIds.length) {
      const runId = runIds[next++]!;
      const result = await env.RUNS.get(env.RUNS.idFromName(runId)).replay(from);
      outcomes.push({ runId, replayed: result?.replayed ?? false, status: result?.status ?? null });
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, runIds.length) }, worker));
  if (runIds.length > 0) await env.DB.prepare(MARK_REPLAYED).bind(JSON.stringify(runIds), Date.now()).run();
  return outcomes;
}
