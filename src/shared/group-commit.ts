/**
 * Group commit: callers that arrive while a write is in flight share the next
 * write. With no write in flight a caller's write starts at once, so a lone
 * request pays nothing; under load one write carries every caller that
 * queued meanwhile, with at most `maxInFlight` writes per isolate (a D1
 * database runs its queries one at a time, so more would only queue there).
 *
 * Callers are separate requests, and a request must not resume on a promise
 * that another request settles: depending on the runtime, the continuation
 * may run in the settling request's context and fail its I/O. So only plain
 * data crosses requests here. Each group's write runs in the context of its
 * first member (its owner), and every other caller polls its own slot on its
 * own timer. A write answers its results, and may hand back work that follows
 * them (`after`): callers are answered with the results, not after that work.
 * `keepAlive` (the owner's `waitUntil`) keeps a write and its `after` running
 * if its client goes away. A group waits for the one before it at most
 * `handoffTimeoutMs`, so a write that never settles delays the next group but
 * never stops the isolate's writes; correctness must not depend on the
 * serialisation, which only decides what travels together.
 */
/** What a group's write answers: one result per item, and any work that follows them. */
export interface Written<R> {
  results: R[];
  after?: Promise<unknown>;
}

export class GroupCommit<T, R> {
  #open: Group<T, R> | undefined;
  /** The latest groups, oldest first: a new group waits for the release of the one `maxInFlight` back. */
  #inFlight: Group<T, R>[] = [];

  constructor(
    /** Writes a group; may call `release` once the part that must not overlap is done. */
    private readonly write: (items: T[], release: () => void) => Promise<Written<R>>,
    private readonly maxBytes: number,
    private readonly maxInFlight = 1,
    private readonly handoffTimeoutMs = 10_000,
    /** A caller whose group has not settled by then gives up with an error. */
    private readonly memberTimeoutMs = 60_000,
    private readonly pollMs = 1,
  ) {}

  /** Resolves with this item's result once the write that carried it has answered. */
  async submit(item: T, bytes: number, keepAlive?: (p: Promise<unknown>) => void): Promise<R> {
    const member: Member<T, R> = { item };
    const open = this.#open;
    if (open && open.bytes + bytes <= this.maxBytes) {
      open.members.push(member);
      open.bytes += bytes;
      await pollUntil(() => member.outcome !== undefined, this.memberTimeoutMs, this.pollMs);
    } else {
      const group: Group<T, R> = { members: [member], bytes, released: false };
      const previous = this.#inFlight.length < this.maxInFlight ? undefined : this.#inFlight.shift();
      this.#inFlight.push(group);
      if (previous && !previous.released) this.#open = group; // collects callers while it waits
      const written = this.#run(group, previous);
      keepAlive?.(written.then((w) => w.after));
      await written;
    }
    const outcome = member.outcome;
    if (!outcome) throw new Error(`group write not settled within ${this.memberTimeoutMs} ms`);
    if (!outcome.ok) throw outcome.error;
    return outcome.value;
  }

  /** Writes the group and settles its members; answers the write's `after` (in an object, so it is not awaited here). */
  async #run(group: Group<T, R>, previous: Group<T, R> | undefined): Promise<{ after?: Promise<unknown> }> {
    if (previous) await pollUntil(() => previous.released, this.handoffTimeoutMs, this.pollMs);
    if (this.#open === group) this.#open = undefined; // later callers start the next group
    const release = () => {
      group.released = true;
    };
    try {
      const { results, after } = await this.write(
        group.members.map((m) => m.item),
        release,
      );
      group.members.forEach((m, i) => {
        m.outcome = { ok: true, value: results[i] as R };
      });
      return { after };
    } catch (error) {
      for (const m of group.members) m.outcome = { ok: false, error };
      return {};
    } finally {
      release();
    }
  }
}

interface Member<T, R> {
  item: T;
  outcome?: { ok: true; value: R } | { ok: false; error: unknown };
}

interface Group<T, R> {
  members: Member<T, R>[];
  bytes: number;
  released: boolean;
}

/** Checks `done` on this request's own timer until it holds or `timeoutMs` passes. */
async function pollUntil(done: () => boolean, timeoutMs: number, everyMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, everyMs));
}
