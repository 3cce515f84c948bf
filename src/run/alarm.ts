import type { RunStore } from "./store";

/**
 * Keeps the object's single alarm pointed at the earliest timer in the
 * journal, calling storage only when that time changes.
 */
export class AlarmPointer {
  #at: number | null = null;
  #held = false;

  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly store: RunStore,
  ) {}

  /** When the alarm is set for, as far as this object knows. */
  get at(): number | null {
    return this.#at;
  }

  /** What storage holds now; called once when the object starts, and when an alarm has fired. */
  reset(at: number | null): void {
    this.#at = at;
  }

  /** Defers every arm() until release(): a run's first turn sets the alarm once, or not at all if it ends. */
  hold(): void {
    this.#held = true;
  }

  release(): void {
    this.#held = false;
    this.arm();
  }

  arm(): void {
    if (this.#held) return;
    const next = this.store.nextTimerAt();
    if (next === null) {
      if (this.#at !== null) void this.storage.deleteAlarm();
      this.#at = null;
      return;
    }
    if (next === this.#at) return;
    this.#at = next;
    // Never "now" exactly: locally, re-arming to now inside alarm() has been seen to be dropped.
    void this.storage.setAlarm(Math.max(next, Date.now() + 5));
  }
}
