/**
 * Runs async work one piece at a time. A Durable Object's input gate opens
 * while it awaits another object, so a decision that awaits one (starting a
 * run, asking a run its status) is serialized here instead.
 */
export class Serial {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(work: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(work);
    this.#tail = result.catch(() => undefined);
    return result;
  }
}
