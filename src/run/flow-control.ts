import type { Env } from "../env";
import { askLimits, releaseSlot } from "./admission";
import type { RunDriver } from "./driver";
import type { RunStore } from "./store";
import { holdSlot, retryAdmit } from "./transitions";

/** What the run's flow control needs of its object. */
export interface FlowHost {
  readonly env: Env;
  readonly store: RunStore;
  readonly driver: RunDriver;
  armAlarm(): void;
  /** A queued run was admitted outside start(): it is listed running and its handler runs. */
  admitted(): void;
}

/** A release that failed is sent again this much later, this many times; past them, the slot's lease returns it. */
const RELEASE_RETRY_MS = 1_000;
const RELEASE_TRIES = 5;

/**
 * A run object's side of flow control: asking a queued run's limits (one
 * ask at a time), taking a slot a limit offers, and letting go of slots and
 * queue places when the run stops executing.
 */
export class RunFlowControl {
  readonly #host: FlowHost;
  /** The asking in progress, and whether to ask once more when it ends. */
  #admitting: Promise<void> | undefined;
  #admitAgain = false;
  /** True while start() asks a new run's limits: an admission then leads into start()'s first turn. */
  #starting = false;
  /** True while the run's releases are kept for start()'s caller (`StartRun.releasesBack`) instead of sent. */
  #keepReleases = false;

  constructor(host: FlowHost) {
    this.#host = host;
  }

  /** start()'s first ask of a new run's limits: an admission leaves the run's first turn (and its lease) to start(). */
  async admitFirst(): Promise<void> {
    this.#starting = true;
    try {
      await this.admit();
    } finally {
      this.#starting = false;
    }
  }

  /**
   * Asks a queued run's limits (one ask at a time; a call meanwhile asks once
   * more after it). An admitted run runs: its first turn in start(), else here.
   */
  admit(): Promise<void> {
    if (this.#admitting) {
      this.#admitAgain = true;
      return this.#admitting;
    }
    const { env, store, driver } = this.#host;
    this.#admitting = (async () => {
      do {
        this.#admitAgain = false;
        const firstTurn = this.#starting;
        let answer: Awaited<ReturnType<typeof askLimits>>;
        try {
          answer = await askLimits(env, store, driver.fn(), JSON.parse(driver.eventJson()), firstTurn);
        } catch (e) {
          console.error(`stepflare: run ${store.run?.id}: asking its flow-control limits failed; asking again:`, (e as Error).message);
          if (store.run?.status === "queued") retryAdmit(store, Date.now() + 1000);
          answer = "queued";
        }
        this.#host.armAlarm();
        if (answer === "admitted" && !firstTurn) this.#host.admitted();
      } while (this.#admitAgain && store.run?.status === "queued");
    })().finally(() => {
      this.#admitting = undefined;
    });
    return this.#admitting;
  }

  /**
   * A slot of the limit `name` offered to the run's stay `ticket`, or asked
   * about when its lease lapsed: true if the run takes or holds it.
   */
  offerSlot(name: string, ticket: number): boolean {
    const run = this.#host.store.run;
    const flow = run?.flow;
    if (!run || !flow || flow.ticket !== ticket) return false;
    if (run.status === "running") return flow.held.includes(name);
    if (run.status !== "queued" || !flow.asked.includes(name)) return false;
    holdSlot(this.#host.store, name);
    void this.admit();
    return true;
  }

  /** Slots the fan-out took for this run under its first ticket when the run already existed: kept if it holds or wants each, else returned. */
  keepOrReturn(names: string[]): void {
    const runId = this.#host.store.run!.id;
    for (const name of names) if (!this.offerSlot(name, 1)) this.#release(runId, `1 ${name}`, 1);
  }

  /** Sends each release the run owes (`store.releases`), in the background; a failed one is sent again a few times. */
  releaseSlots(): void {
    const { store } = this.#host;
    if (this.#keepReleases) return;
    for (const ref of store.releases.splice(0)) this.#release(store.run!.id, ref, 1);
  }

  /** From now until `handBack`, the run's releases are kept for start()'s caller. */
  keepReleases(): void {
    this.#keepReleases = true;
  }

  /** The releases kept since `keepReleases`, for start()'s caller to send; later ones are sent by the run. */
  handBack(): string[] {
    this.#keepReleases = false;
    return this.#host.store.releases.splice(0);
  }

  #release(runId: string, ref: string, tries: number): void {
    releaseSlot(this.#host.env, runId, ref).catch((e) => {
      if (tries >= RELEASE_TRIES) {
        console.error(`stepflare: run ${runId}: releasing a slot failed; its lease returns it:`, (e as Error).message);
        return;
      }
      setTimeout(() => this.#release(runId, ref, tries + 1), RELEASE_RETRY_MS * tries);
    });
  }
}
