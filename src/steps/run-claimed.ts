import { StepflareError } from "../../sdk/errors";
import { Execution, type FoundStep, type MemoEntry } from "../../sdk/execution";
import { checkOutputSize, fromJson, toJson, utf8Bytes } from "../../sdk/json";
import type { EngineConfig } from "../config";
import { failedResult } from "../run/decide";
import { runLogger } from "../run/logger";
import type { ReplayContext } from "../run/object";
import type { StepResult } from "../run/types";
import { Coalescer } from "../shared/coalesce";

/** How long a replay may take to reach the steps it was sent for before they count as not found. */
const FIND_TIMEOUT_MS = 5_000;
/** RPC payloads stay well below the 32 MiB limit. */
const REPORT_MAX_BYTES = 8 * 1024 * 1024;

/**
 * Runs the claimed steps of one run: replays the handler against the journal
 * as it stood when the steps were planned, runs each claimed step's function
 * when the replay reaches it, and reports every result to the run's object.
 * One replay serves all the steps planned together.
 */
export async function runClaimedSteps(
  config: EngineConfig,
  env: Record<string, unknown>,
  runId: string,
  context: ReplayContext,
  attempts: Map<string, number>,
  report: (results: StepResult[]) => Promise<void>,
): Promise<void> {
  const fn = config.registry.get(context.functionId);
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
    const attempt = attempts.get(f.key) ?? 1;
    try {
      const outputJson = toJson(await f.fn({ attempt: attempt - 1 }));
      checkOutputSize(outputJson, config.limits.maxStepOutputBytes, "step_output_too_large", `output of step "${f.id}"`);
      reporter.add({ key: f.key, attempt, ok: true, outputJson: outputJson ?? null });
    } catch (e) {
      reporter.add(failedResult(f.key, attempt, e));
    }
  };

  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => finish(), FIND_TIMEOUT_MS);
    const finish = () => {
      clearTimeout(timer);
      exec.abandon();
      for (const key of targets) {
        reporter.add(
          failedResult(
            key,
            attempts.get(key) ?? 1,
            new StepflareError(
              "non_deterministic",
              `the handler did not reach step "${key}" when replayed: it must reach the same steps in the same order every time`,
            ),
          ),
        );
      }
      targets.clear();
      resolve();
    };
    const exec = new Execution(
      fn.handler,
      {
        event: JSON.parse(context.eventJson),
        env,
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
          if (targets.size === 0) finish();
        },
        onSettled: () => finish(),
      },
    );
    exec.start();
  });
  await Promise.all(running);
  await reporter.drain();
}
