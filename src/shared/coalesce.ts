/**
 * Collects items and hands them over in one call once the microtask queue
 * has been quiet for a few turns, so results that finish together travel
 * together. A batch is also cut when it reaches `maxBytes`.
 */
export class Coalescer<T> {
  #items: T[] = [];
  #bytes = 0;
  #scheduled = false;
  readonly #inflight = new Set<Promise<void>>();

  constructor(
    private readonly flush: (items: T[]) => Promise<void>,
    private readonly sizeOf: (item: T) => number,
    private readonly maxBytes: number,
    private readonly quietTurns = 10,
  ) {}

  add(item: T): void {
    const size = this.sizeOf(item);
    if (this.#items.length > 0 && this.#bytes + size > this.maxBytes) this.#send();
    this.#items.push(item);
    this.#bytes += size;
    if (!this.#scheduled) {
      this.#scheduled = true;
      void this.#later();
    }
  }

  /** Resolves once everything added so far has been handed over. */
  async drain(): Promise<void> {
    this.#send();
    await Promise.all(this.#inflight);
  }

  async #later(): Promise<void> {
    for (let i = 0; i < this.quietTurns; i++) await null;
    this.#scheduled = false;
    this.#send();
  }

  #send(): void {
    if (this.#items.length === 0) return;
    const items = this.#items;
    this.#items = [];
    this.#bytes = 0;
    const p = this.flush(items).finally(() => this.#inflight.delete(p));
    this.#inflight.add(p);
  }
}
