import { isNonRetriable, type SerializedError, serializeError } from "../errors";
import type { FoundStep } from "../execution";
import { toJson } from "../json";

/**
 * A step's result, mocked: `handler` runs instead of the step's function.
 * Its return value is the step's output; what it throws is the step's final
 * error. The same shape will serve the other step tools as they land.
 */
export interface StepMock {
  id: string;
  handler: () => unknown;
}

export type StepOutcome = { ok: true; output: unknown } | { ok: false; error: SerializedError };

/**
 * Settles one found step the way the engine would: a mock answers at once;
 * otherwise the step's function runs for up to `retries` + 1 attempts (no
 * backoff between them), and its output goes through JSON as the journal
 * stores it, so a test sees what a replay would see.
 */
export async function runStep(step: FoundStep, mock: StepMock | undefined, retries: number): Promise<StepOutcome> {
  if (mock) {
    try {
      return { ok: true, output: asStored(await mock.handler()) };
    } catch (error) {
      return { ok: false, error: serializeError(error) };
    }
  }
  // step.invoke: the child runs in its own run; here only a mock answers for it.
  if (step.invoke) {
    return {
      ok: false,
      error: {
        name: "StepflareError",
        code: "invoke_not_mocked",
        message: `step.invoke("${step.id}") runs ${step.invoke.functionId} as a child run, which runFunction does not start: mock the step by its id`,
      },
    };
  }
  // step.sendEvent: recorded, not sent; an id per event, its own when it has one.
  if (step.send) {
    const ids = step.send.map((e, i) => {
      const id = (e as { id?: unknown } | null)?.id;
      return typeof id === "string" && id !== "" ? id : `${step.key}-${i}`;
    });
    return { ok: true, output: { ids } };
  }
  for (let attempt = 0; ; attempt++) {
    try {
      return { ok: true, output: asStored(await step.fn({ attempt })) };
    } catch (error) {
      if (isNonRetriable(error) || attempt >= retries) return { ok: false, error: serializeError(error) };
    }
  }
}

/** A value as the journal gives it back: through JSON. */
export const asStored = (value: unknown): unknown => {
  const json = toJson(value);
  return json === undefined ? undefined : JSON.parse(json);
};
