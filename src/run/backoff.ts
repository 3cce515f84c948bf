import type { Backoff } from "../shared/limits";

/**
 * Delay before retry number `retry` (1 for the first retry): exponential from
 * `baseMs`, capped at `maxMs`, with "equal jitter" (half fixed, half random)
 * so that many runs failing together do not retry in lockstep.
 */
export function retryDelayMs(retry: number, backoff: Backoff, random: () => number = Math.random): number {
  const exp = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.max(0, retry - 1));
  return Math.round(exp / 2 + (random() * exp) / 2);
}
