import type { Env } from "../env";
import type { ReplayFrom } from "../run/object";

const MARK_REPLAYED = `
UPDATE dead_letters SET replayed_at = ?2, replay_count = replay_count + 1
WHERE source = 'run' AND replayed_at IS NULL AND failed_at < ?3 AND run_id IN (SELECT value FROM json_each(?1))`;

export interface ReplayOutcome {
  runId: string;
  replayed: boolean;
  status: string | null;
}

/**
 * Replays runs through their objects, a bounded number at a time, and marks
 * the dead letters they had when the call began as replayed. An object only
 * replays a run that is failed, so overlapping or repeated replays never run
 * anything twice; a run that fails again while the call is still going has a
 * new dead letter, which stays unreplayed.
 */
export async function replayRuns(env: Env, runIds: string[], from: ReplayFrom, concurrency = 16): Promise<ReplayOutcome[]> {
  const began = Date.now();
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
  if (runIds.length > 0) await env.DB.prepare(MARK_REPLAYED).bind(JSON.stringify(runIds), Date.now(), began).run();
  return outcomes;
}
