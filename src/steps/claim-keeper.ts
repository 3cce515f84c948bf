import type { Env } from "../env";

interface Held {
  runId: string;
  token: string;
  claims: { key: string; attempt: number }[];
}

/**
 * Keeps alive the claims of one steps-consumer invocation while their steps
 * run: a third of the way through each claim lease, one renewClaims call to
 * each run it holds steps of, carrying every step it holds there. A claim
 * its run no longer counts as held (the attempt timed out, the run ended or
 * was replayed) is dropped from later renewals. When the invocation dies,
 * nothing renews, and each claim lapses within one lease.
 */
export class ClaimKeeper {
  readonly #env: Env;
  readonly #periodMs: number;
  readonly #held = new Map<string, Held>();
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(env: Env, leaseMs: number) {
    this.#env = env;
    this.#periodMs = Math.max(100, Math.floor(leaseMs / 3));
  }

  /** Keeps `claims` (claimed under `token`) alive until the returned release is called. */
  hold(runId: string, token: string, claims: Held["claims"]): () => void {
    if (claims.length === 0) return () => {};
    this.#held.set(token, { runId, token, claims });
    this.#timer ??= setInterval(() => this.#renew(), this.#periodMs);
    return () => {
      this.#held.delete(token);
      if (this.#held.size === 0 && this.#timer !== undefined) {
        clearInterval(this.#timer);
        this.#timer = undefined;
      }
    };
  }

  #renew(): void {
    for (const held of this.#held.values()) {
      const stub = this.#env.RUNS.get(this.#env.RUNS.idFromName(held.runId));
      Promise.resolve()
        .then(() => stub.renewClaims(held.token, held.claims))
        .then(
          (keys) => {
            const still = new Set(keys);
            held.claims = held.claims.filter((c) => still.has(c.key));
          },
          // A renewal that fails is tried again next period; a lease outlasts two of them.
          (e) => console.error(`stepflare: run ${held.runId}: renewing step claims failed:`, (e as Error).message),
        );
    }
  }
}
