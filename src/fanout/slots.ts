import type { StepflareFunction } from "../../sdk/internal";
import type { Env } from "../env";
import { compiledFlow, runNeeds } from "../flow/needs";

interface Ask {
  runId: string;
  ord: number;
  resolve: (held: boolean) => void;
}

/**
 * Concurrency slots taken for a whole delivery: the runs the fan-out starts
 * for its events ask one call per limit, gathered over a timer tick, instead
 * of one call per run from each run's object. A run that gets a slot starts
 * holding it (`StartRun.slots`); one that does not asks in its start() as
 * before. Only a function with one concurrency limit and no throttle takes
 * part, so no run holds one limit while it waits for another, and a run
 * never passes its throttle.
 *
 * A slot taken for a run that never starts (the delivery failed) is returned
 * by the slot's lease: the limit's object asks the run, which has none.
 */
export class SlotReservations {
  readonly #env: Env;
  readonly #asks = new Map<string, { limit: number; asks: Ask[] }>();
  #flushing = false;

  constructor(env: Env) {
    this.#env = env;
  }

  /** The slot to ask for a new run of `fn` for `event`, or null when its start() asks for itself. */
  static need(fn: StepflareFunction, event: unknown): { name: string; limit: number; ord: number } | null {
    const flow = compiledFlow(fn);
    if (!flow || flow.throttle || flow.concurrency.length === 0) return null;
    const needs = runNeeds(fn, flow, event);
    const only = needs.concurrency.length === 1 ? needs.concurrency[0] : undefined;
    // Ordered as the run's own ask would be: when it queued (now), moved ahead by its priority.
    return only ? { ...only, ord: Date.now() - needs.priority * 1000 } : null;
  }

  /** Whether the run holds a slot of `name` now. A failed call answers false: the run asks for itself. */
  take(name: string, limit: number, runId: string, ord: number): Promise<boolean> {
    return new Promise((resolve) => {
      const entry = this.#asks.get(name) ?? { limit, asks: [] };
      entry.asks.push({ runId, ord, resolve });
      this.#asks.set(name, entry);
      if (this.#flushing) return;
      this.#flushing = true;
      setTimeout(() => this.#flush(), 0);
    });
  }

  #flush(): void {
    this.#flushing = false;
    const batches = [...this.#asks];
    this.#asks.clear();
    for (const [name, { limit, asks }] of batches) {
      const stub = this.#env.FLOW.get(this.#env.FLOW.idFromName(name));
      stub
        .reserveSlots(
          name,
          asks.map(({ runId, ord }) => ({ runId, ord })),
          limit,
        )
        .then(
          (held) => {
            const taken = new Set(held);
            for (const a of asks) a.resolve(taken.has(a.runId));
          },
          (e) => {
            console.error(
              `stepflare: taking slots of ${JSON.stringify(name)} for ${asks.length} run(s) failed; each asks for itself:`,
              (e as Error).message,
            );
            for (const a of asks) a.resolve(false);
          },
        );
    }
  }
}
