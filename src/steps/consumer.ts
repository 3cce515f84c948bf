import type { EngineConfig } from "../config";
import type { Env } from "../env";
import { type StepMessage, stepMessageSchema } from "../messages/steps";
import { claimSteps } from "./claim";
import { ClaimKeeper } from "./claim-keeper";
import { runClaimedSteps } from "./run-claimed";

/**
 * The steps queue consumer. Each message holds up to ten steps of one plan.
 * Steps are grouped by run and plan, claimed from the run's object (which answers with
 * the journal to catch the handler up against; steps/claim.ts), acknowledged, and then run in the
 * background, so one slow step never holds up the next batch. A message that
 * does not parse, or names a run that does not exist, is retried and ends in
 * the steps dead-letter queue.
 */
export async function consumeSteps(batch: MessageBatch<unknown>, env: Env, ctx: ExecutionContext, config: EngineConfig): Promise<void> {
  const groups = new Map<
    string,
    { runId: string; planSeq: number; gen: number; messages: Set<Message<unknown>>; steps: StepMessage["steps"] }
  >();
  for (const msg of batch.messages) {
    const parsed = stepMessageSchema.safeParse(msg.body);
    if (!parsed.success) {
      console.error(`stepflare: steps message ${msg.id} is malformed; retrying toward the dead-letter queue`);
      msg.retry();
      continue;
    }
    const { runId, planSeq, gen } = parsed.data;
    const id = `${runId}@${gen}@${planSeq}`;
    const group = groups.get(id) ?? { runId, planSeq, gen, messages: new Set(), steps: [] };
    group.messages.add(msg);
    group.steps.push(...parsed.data.steps);
    groups.set(id, group);
  }

  const keeper = new ClaimKeeper(env, config.limits.stepClaimLeaseMs);
  await Promise.all(
    [...groups.values()].map(async (group) => {
      let context: Awaited<ReturnType<typeof claimSteps>>;
      try {
        context = await claimSteps(
          env,
          group.runId,
          group.planSeq,
          group.steps.map(({ key, attempt }) => ({ key, attempt, gen: group.gen })),
        );
      } catch (e) {
        console.error(`stepflare: run ${group.runId}: claim failed:`, (e as Error).message);
        for (const msg of group.messages) msg.retry();
        return;
      }
      if (!context) {
        console.error(`stepflare: steps message names run ${group.runId}, which does not exist`);
        for (const msg of group.messages) msg.retry();
        return;
      }
      for (const msg of group.messages) msg.ack();
      if (context.claimed.length === 0) return;
      // The object claims only a step's current attempt, which no message for it can be behind.
      const attempts = new Map<string, number>();
      for (const { key, attempt } of group.steps) attempts.set(key, Math.max(attempts.get(key) ?? 0, attempt));
      const stub = env.RUNS.get(env.RUNS.idFromName(group.runId));
      const report = async (results: Parameters<typeof stub.completeSteps>[0]) => {
        try {
          await stub.completeSteps(results.map((r) => ({ ...r, gen: group.gen })));
        } catch (e) {
          // The run's step leases turn an unreported result into a retried attempt.
          console.error(`stepflare: run ${group.runId}: reporting ${results.length} result(s) failed:`, (e as Error).message);
        }
      };
      const release = keeper.hold(
        group.runId,
        context.token,
        context.claimed.map((key) => ({ key, attempt: attempts.get(key) ?? 1 })),
      );
      ctx.waitUntil(runClaimedSteps(config, env, group.runId, context, attempts, report).finally(release));
    }),
  );
}
