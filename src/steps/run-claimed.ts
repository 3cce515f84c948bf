import { Execution, type FoundStep, fromJson, type MemoEntry, StepflareError, utf8Bytes } from "../../sdk/internal";
import type { EngineConfig } from "../config";
import type { Env } from "../env";
import { remoteHandler } from "../remote/handler";
import { callOptions } from "../remote/keys";
import { runnableRemote } from "../remote/registry";
import { attemptStep, failedResult } from "../run/decide";
import { runLogger } from "../run/logger";
import type { CatchUpContext } from "../run/object";
import { performerFor } from "../run/perform";
import type { StepResult } from "../run/types";
import { Coalescer } from "../shared/coalesce";

/** RPC payloads stay well below the 32 MiB limit. */
const REPORT_MAX_BYTES = 8 * 1024 * 1024;

/**
 * Runs the claimed steps of one run: catches the handler up to the journal
 * as it stood when the steps were planned (memoized steps resolve from it,
 * work outside steps runs again), runs each claimed step's function when the
 * handler reaches it, and reports every result to the run's object. One
 * catch-up serves all the steps planned together. It has the step timeout
 * to reach them, as the run's own execution has for work outside steps; a
 * catch-up that runs out of it fails the attempts with step_timeout, which
 * is retried; one whose handler settles without reaching them is non_deterministic.
 */
export async function runClaimedSteps(
  config: EngineConfig,
  env: Env,
  runId: string,
  context: CatchUpContext,
  attempts: Map<string, number>,
  report: (results: StepResult[]) => Promise<void>,
): Promise<void> {
  const perform = performerFor(env, config, runId);
  // A remote function's catch-up asks the app for its ops but never lets it run a step it was not asked for.
  const fn = context.remote
    ? runnableRemote(
        context.functionId,
        context.remote,
        remoteHandler(context.remote, { journal: new Set(), runAhead: false, options: () => callOptions(env, config) }),
      )
    : config.registry.get(context.functionId);
  const reporter = new Coalescer<StepResult>(report, (r) => (r.ok ? utf8Bytes(r.outputJson ?? "") : 4096), REPORT_MAX_BYTES);
  const targets = new Set(context.claimed);
  if (!fn) {
    for (const key of targets) {
      reporter.add(
        failedResult(
          key,
          attempts.get(key) ?? 1,
          new StepflareError("function_not_found", `function ${context.functionId} is not registered with this engine`),
        ),
      );
    }
    return reporter.drain();
  }

  const decoder = new TextDecoder();
  const memo = new Map<string, MemoEntry>(
    context.memo.map(({ key, status, value, seq }) => {
      const text = value === null ? null : decoder.decode(value);
      return status === "completed"
        ? [key, { status, output: fromJson(text), seq }]
        : [key, { status, error: JSON.parse(text ?? "{}"), seq }];
    }),
  );
  const running: Promise<void>[] = [];
  const runOne = async (f: FoundStep): Promise<void> => {
    reporter.add(await attemptStep(f, attempts.get(f.key) ?? 1, config.limits.maxStepOutputBytes, perform));
  };

  const allowanceMs = config.limits.stepTimeoutMs;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => finish("timeout"), allowanceMs);
    const finish = (why: "reached" | "timeout" | "settled", thrown?: unknown) => {
      clearTimeout(timer);
      exec.abandon();
      for (const key of targets) {
        // A remote function's catch-up that failed to reach the app fails the attempt with that error (retried as it says):
        // the app's code did not go another way, the call did not get through.
        const error = context.remote && thrown !== undefined ? thrown : notReached(key, why, allowanceMs);
        reporter.add(failedResult(key, attempts.get(key) ?? 1, error));
      }
      targets.clear();
      resolve();
    };
    const exec = new Execution(
      fn.handler,
      {
        event: JSON.parse(context.eventJson),
        ...(context.batchJson === undefined ? {} : { events: JSON.parse(context.batchJson) }),
        env: env as unknown as Record<string, unknown>,
        runId,
        attempt: context.attempt,
        logger: runLogger({ id: runId, functionId: fn.config.id }),
        memo,
      },
      {
        onFound: (found) => {
          for (const f of found) {
            if (!targets.delete(f.key)) continue;
            running.push(runOne(f));
          }
          if (targets.size === 0) finish("reached");
        },
        onSettled: (outcome) => finish("settled", outcome.type === "threw" ? outcome.error : undefined),
      },
    );
    exec.start();
  });
  await Promise.all(running);
  await reporter.drain();
}

/** Why a claimed step's attempt never ran: the catch-up took too long (retried), or the handler went another way (not retried). */
function notReached(key: string, why: "reached" | "timeout" | "settled", allowanceMs: number): Error {
  if (why === "timeout") {
    return Object.assign(
      new Error(
        `the handler did not reach step "${key}" within ${allowanceMs} ms when re-run to its plan (work outside steps runs again each time)`,
      ),
      { name: "StepTimeoutError", code: "step_timeout" },
    );
  }
  return new StepflareError(
    "non_deterministic",
    `the handler did not reach step "${key}" when re-run to its plan: it must reach the same steps in the same order every time`,
  );
}
