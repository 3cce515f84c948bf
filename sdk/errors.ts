/**
 * Errors a function author throws or catches, and their wire form.
 *
 * Classes do not survive Durable Object RPC or queue hops, so every error is
 * recognised by its `name` and carried as a {@link SerializedError}.
 */

import { wellFormedHead } from "./text";

/** The JSON form of an error, as stored in the journal and shown by the API. */
export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  stack?: string;
}

/** Throw to fail a step (or the whole run) at once, with no further attempts. */
export class NonRetriableError extends Error {
  override name = "NonRetriableError";
  readonly code?: string;
  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    if (options?.code) this.code = options.code;
  }
}

/** The furthest ahead a RetryAfterError may put the next attempt: 365 days. */
export const MAX_RETRY_AFTER_MS = 365 * 24 * 60 * 60 * 1000;

/**
 * Throw to ask for the next attempt no sooner than `retryAfter`: milliseconds
 * from now, or an absolute `Date`, at most 365 days ahead (further, or not a
 * finite time, and the constructor throws a StepflareError `invalid_retry_after`).
 * It still counts as an attempt.
 *
 * @example throw new RetryAfterError("rate limited", 30_000);
 */
export class RetryAfterError extends Error {
  override name = "RetryAfterError";
  readonly retryAfterMs: number;
  constructor(message: string, retryAfter: number | Date, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    const ms = retryAfter instanceof Date ? retryAfter.getTime() - Date.now() : retryAfter;
    // A bad delay is a bug in the caller, like a bad step: it fails at once with a stable code, never retried.
    if (!Number.isFinite(ms))
      throw new StepflareError("invalid_retry_after", "RetryAfterError: retryAfter must be a finite number or a Date");
    if (ms > MAX_RETRY_AFTER_MS)
      throw new StepflareError(
        "invalid_retry_after",
        `RetryAfterError: retryAfter must be at most ${MAX_RETRY_AFTER_MS} ms (365 days) ahead`,
      );
    this.retryAfterMs = Math.max(0, Math.round(ms));
  }
}

/**
 * What a failed step rejects with at its `await`: the step's last error, with
 * its name, message and code. Rethrowing it (or not catching it) fails the
 * run without retrying the handler, since the step already spent its retries.
 */
export class StepFailedError extends Error {
  override name: string;
  readonly stepId: string;
  /** Which occurrence of the id failed (`id`, `id:1`, ...). */
  readonly stepKey?: string;
  readonly code?: string;
  readonly isStepFailure = true;
  constructor(stepId: string, error: SerializedError, stepKey?: string) {
    super(error.message);
    this.name = error.name;
    this.stepId = stepId;
    if (stepKey) this.stepKey = stepKey;
    if (error.code) this.code = error.code;
    if (error.stack) this.stack = error.stack;
  }
}

/** An engine limit or contract violation, with a stable `code`. Never retried. */
export class StepflareError extends Error {
  override name = "StepflareError";
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

export const isNonRetriable = (e: unknown): boolean =>
  e instanceof Error && (e.name === "NonRetriableError" || e.name === "StepflareError");

export const isStepFailure = (e: unknown): e is StepFailedError =>
  typeof e === "object" && e !== null && (e as { isStepFailure?: unknown }).isStepFailure === true;

/** The delay a RetryAfterError asks for; anything else (or a value out of range) takes the usual backoff. */
export const retryAfterMsOf = (e: unknown): number | undefined => {
  if (!(e instanceof Error) || e.name !== "RetryAfterError") return undefined;
  const ms = (e as RetryAfterError).retryAfterMs;
  return typeof ms === "number" && Number.isFinite(ms) && ms >= 0 && ms <= MAX_RETRY_AFTER_MS ? ms : undefined;
};

const MAX_MESSAGE = 4096;
/** A code or name as stored, at most: this many characters, then the clip's suffix. */
export const MAX_CODE = 256;
const MAX_STACK = 8192;

/** Turns anything thrown into its JSON form, bounded in size. */
export function serializeError(e: unknown): SerializedError {
  if (e instanceof Error) {
    const out: SerializedError = { name: clip(String(e.name || "Error"), MAX_CODE), message: clip(String(e.message), MAX_MESSAGE) };
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" || (typeof code === "number" && Number.isFinite(code))) out.code = clip(String(code), MAX_CODE);
    if (typeof e.stack === "string") out.stack = clip(e.stack, MAX_STACK);
    return out;
  }
  // An error-shaped object thrown as is (`throw { name, message, code }`) keeps its fields.
  if (typeof e === "object" && e !== null && typeof (e as { message?: unknown }).message === "string") {
    const { name, message, code } = e as { name?: unknown; message: string; code?: unknown };
    const out: SerializedError = {
      name: typeof name === "string" && name ? clip(name, MAX_CODE) : "Error",
      message: clip(message, MAX_MESSAGE),
    };
    if (typeof code === "string" || (typeof code === "number" && Number.isFinite(code))) out.code = clip(String(code), MAX_CODE);
    return out;
  }
  let message: string;
  try {
    message = typeof e === "string" ? e : (JSON.stringify(e) ?? String(e));
  } catch {
    message = String(e);
  }
  return { name: "Error", message: clip(message, MAX_MESSAGE) };
}

// Error text is diagnostic, not data: it is bounded so that a huge message can
// never push a journal row past the storage limits. Outputs are never clipped.
function clip(s: string, max: number): string {
  if (s.length <= max) return s;
  const head = wellFormedHead(s, max);
  return `${head}… [${s.length - head.length} more characters]`;
}
