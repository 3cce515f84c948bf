import { StepflareError } from "./errors";
import { isPlainText } from "./protocol";

/**
 * The one rule for durable step keys: a step's key is its id the first time
 * the id occurs in an execution, then `id:1`, `id:2`, ... in the order the
 * handler reaches them. Catch-ups reach them in the same order, so a loop that
 * reuses an id maps each iteration onto the same journal row every time.
 */
export class StepKeys {
  readonly #seen = new Map<string, number>();

  next(id: string): string {
    const n = this.#seen.get(id) ?? 0;
    this.#seen.set(id, n + 1);
    return n === 0 ? id : `${id}:${n}`;
  }
}

/** Step ids are what users name their steps; keys derive from them (`:` separates a reused id's number). */
export const STEP_ID_PATTERN = /^[^\s:][^:]{0,127}$/;

/** A step id the journal stores unchanged: 1-128 characters, no `:`, no leading whitespace, plain text. */
export function assertStepId(id: unknown): asserts id is string {
  if (typeof id !== "string" || !STEP_ID_PATTERN.test(id) || !isPlainText(id)) {
    throw new StepflareError(
      "invalid_step",
      `step id must be a string of 1-128 characters without ':', control characters or unpaired surrogates, and not starting with whitespace; got ${JSON.stringify(id)}`,
    );
  }
}
