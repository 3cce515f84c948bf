import type { StepflareFunction } from "../../sdk/internal";
import type { Env } from "../env";
import { compiledFlow, runNeeds } from "../flow/needs";

interface Ask {
  runId: string;
  ord: number;
  resolve: (held: boolean) => void;
}

/** Releases handed back within this long go in one call: runs of a delivery end a few milliseconds apart. */
const RELEASE_BATCH_MS = 5;

/** A release's ref, `ticket name`, as a run hands it back. */
const parseRef = (ref: string) => ({ ticket: Number(ref.slice(0, ref.indexOf(" "))), name: ref.slice(ref.indexOf(" ") + 1) });

/**
 * Concurrency slots taken and given back for a whole delivery: the runs the
 * fan-out starts ask one call per limit, gathered over a timer tick, instead
 * of one call per run from each run's object. A run that gets a slot starts
 * holding it (`StartRun.slots`); one that does not asks in its start() as
 * before. Only a function with one concurrency limit and no throttle takes
 * part, so no run holds one limit while it waits for another, and a run
 * never passes its throttle. The slots of runs that end in their first
 * turn come back in start()'s answer and are let go of together.
 *
 * A slot taken for a run that never starts (the delivery failed), or whose
 * release is lost, is returned by the slot's lease: the limit's object asks
 * the run, which no longer holds it.
 */
export class SlotReservations {
  readonly #env: Env;
  readonly #asks = new Map<string, { limit: number; asks: Ask[] }>();
  readonly #releases = new Map<string, { runId: string; ticket: number }[]>();
  readonly #calls: Promise<unknown>[] = [];
  #flushing = false;
  #flushAt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

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
      this.#flushSoon(0);
    });
  }

  /** Lets go of what run `runId` handed back (`StartedRun.releases`), with the others handed back within `RELEASE_BATCH_MS`. */
  giveBack(runId: string, refs: string[]): void {
    for (const ref of refs) {
      const { ticket, name } = parseRef(ref);
      const list = this.#releases.get(name) ?? [];
      list.push({ runId, ticket });
      this.#releases.set(name, list);
    }
    this.#flushSoon(RELEASE_BATCH_MS);
  }

  /** Settles when every call made so far has been answered (or failed). */
  async settled(): Promise<void> {
    while (this.#flushing || this.#calls.length > 0) {
      if (this.#flushing) await new Promise((resolve) => setTimeout(resolve, RELEASE_BATCH_MS));
      await Promise.allSettled(this.#calls.splice(0));
    }
  }

  /** Flushes within `ms`, or sooner if a flush is already due sooner. */
  #flushSoon(ms: number): void {
    const at = Date.now() + ms;
    if (this.#flushing && this.#flushAt <= at) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#flushing = true;
    this.#flushAt = at;
    this.#timer = setTimeout(() => this.#flush(), ms);
  }

  #flush(): void {
    this.#flushing = false;
    this.#timer = undefined;
    const releases = [...this.#releases];
    this.#releases.clear();
    for (const [name, runs] of releases) {
      const call = this.#stub(name)
        .releaseSlotsOf(name, runs)
        .catch((e) =>
          console.error(
            `stepflare: releasing ${runs.length} slot(s) of ${JSON.stringify(name)} failed; their leases return them:`,
            (e as Error).message,
          ),
        );
      this.#calls.push(call);
    }
    const batches = [...this.#asks];
    this.#asks.clear();
    for (const [name, { limit, asks }] of batches) {
      const call = this.#stub(name)
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
      this.#calls.push(call);
    }
  }

  #stub(name: string) {
    return this.#env.FLOW.get(this.#env.FLOW.idFromName(name));
  }
}
