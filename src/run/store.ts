import type { InvokeSpec, SerializedError, WaitSpec } from "../../sdk/internal";
import type { RemoteTarget } from "../remote/target";
import type { ParentLink, ReplayRecord, RunFlow, RunState, RunStatus, StepState, StepStatus, TimerKind } from "./types";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS run (
  id TEXT PRIMARY KEY, function_id TEXT NOT NULL, event_id TEXT NOT NULL, status TEXT NOT NULL,
  output TEXT, error TEXT, attempt INTEGER NOT NULL, started_at INTEGER NOT NULL, ended_at INTEGER,
  version INTEGER NOT NULL, settle_seq INTEGER NOT NULL, accepted_at INTEGER NOT NULL, parent TEXT
);
CREATE TABLE IF NOT EXISTS steps (
  key TEXT PRIMARY KEY, id TEXT NOT NULL, seq INTEGER NOT NULL, status TEXT NOT NULL,
  attempts INTEGER NOT NULL, retries INTEGER NOT NULL, output TEXT, error TEXT,
  started_at INTEGER, ended_at INTEGER, settle_seq INTEGER, plan_seq INTEGER, mode TEXT, claimed_attempt INTEGER,
  claim_token TEXT, deadline_at INTEGER, wake_at INTEGER, attempt_started_at INTEGER, wait TEXT, invoke TEXT
);
-- Each failed attempt of a step, for its history; the step row keeps the latest error, with its stack.
CREATE TABLE IF NOT EXISTS attempts (
  key TEXT NOT NULL, n INTEGER NOT NULL, started_at INTEGER, ended_at INTEGER NOT NULL, error TEXT NOT NULL, PRIMARY KEY (key, n)
);
CREATE TABLE IF NOT EXISTS timers (
  kind TEXT NOT NULL, ref TEXT NOT NULL, due_at INTEGER NOT NULL, PRIMARY KEY (kind, ref)
);
-- The event and each replay record have rows of their own: beside a run's output in one row they could pass the 2 MB row limit.
CREATE TABLE IF NOT EXISTS event (json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS replays (n INTEGER PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS flow (id INTEGER PRIMARY KEY CHECK (id = 0), json TEXT NOT NULL);
-- For a function another app serves: where to call it (src/remote/target.ts).
CREATE TABLE IF NOT EXISTS remote (id INTEGER PRIMARY KEY CHECK (id = 0), json TEXT NOT NULL);`;

export interface Timer {
  kind: TimerKind;
  ref: string;
  dueAt: number;
  /** Kept in memory only: it matters to this instance alone (an inline step's timeout; a new instance recovers the step instead). */
  volatile?: boolean;
}

/** A failed attempt of a step, as its history keeps it. */
export interface FailedAttempt {
  n: number;
  startedAt: number | null;
  endedAt: number;
  error: SerializedError;
}

const timerId = (kind: TimerKind, ref: string): string => `${kind} ${ref}`;
const parseJson = <T>(s: unknown): T | null => (typeof s === "string" ? (JSON.parse(s) as T) : null);
const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/**
 * The run's journal in its Durable Object's SQLite: the only SQL of a run.
 * State is read once when the object starts and kept in memory; every change
 * is written through before anything depends on it.
 */
export class RunStore {
  readonly #sql: SqlStorage;
  run: RunState | null = null;
  readonly steps = new Map<string, StepState>();
  /** The next step's found-order number: one past the highest ever stored. */
  nextSeq = 0;
  /** Flow control's releases owed to limit objects (`ticket name`), in memory only: see `leaveSlots`. */
  readonly releases: string[] = [];
  /** The timers table, mirrored: read once, written through, so deciding the alarm costs no SQL. */
  readonly #timers = new Map<string, Timer>();

  constructor(storage: Pick<DurableObjectStorage, "sql">) {
    const sql = storage.sql;
    this.#sql = sql;
    // An object that never held a run (an unknown id asked about) creates no tables, so it stores nothing.
    if (sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'run'").toArray().length === 0) return;
    const row = sql.exec("SELECT * FROM run LIMIT 1").toArray()[0];
    if (row) {
      this.run = this.#runFromRow(row);
      this.run.replays = sql
        .exec("SELECT record FROM replays ORDER BY n")
        .toArray()
        .map((r) => JSON.parse(String(r.record)) as ReplayRecord);
      // A run stored before flow control has no flow table.
      if (sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'flow'").toArray().length > 0) {
        this.run.flow = parseJson<RunFlow>(sql.exec("SELECT json FROM flow").toArray()[0]?.json);
      }
    }
    for (const r of sql.exec("SELECT * FROM steps ORDER BY seq").toArray()) {
      const step = this.#stepFromRow(r);
      this.steps.set(step.key, step);
      this.nextSeq = Math.max(this.nextSeq, step.seq + 1);
    }
    if (this.run) this.run.stateBytes = this.countStateBytes();
    for (const r of sql.exec("SELECT kind, ref, due_at FROM timers").toArray()) {
      const t: Timer = { kind: r.kind as TimerKind, ref: String(r.ref), dueAt: Number(r.due_at) };
      this.#timers.set(timerId(t.kind, t.ref), t);
    }
  }

  /** Creates the run with its event; a batch's later events (`moreEvents`, JSON each) follow it, in order. */
  createRun(run: RunState, eventJson: string, moreEvents: string[] = []): void {
    this.#sql.exec(SCHEMA);
    this.#sql.exec(
      `INSERT INTO run (id, function_id, event_id, status, output, error, attempt, started_at, ended_at, version, settle_seq, accepted_at, parent)
       VALUES (?, ?, ?, ?, NULL, NULL, ?, ?, NULL, ?, ?, ?, ?)`,
      run.id,
      run.functionId,
      run.eventId,
      run.status,
      run.attempt,
      run.startedAt,
      run.version,
      run.settleSeq,
      run.acceptedAt,
      run.parent ? JSON.stringify(run.parent) : null,
    );
    this.#sql.exec("INSERT INTO event (json) VALUES (?)", eventJson);
    for (const json of moreEvents) this.#sql.exec("INSERT INTO event (json) VALUES (?)", json);
    this.run = run;
    if (run.flow) this.saveFlow();
  }

  /** Writes the run's place under flow control. */
  saveFlow(): void {
    const flow = this.#mustRun().flow;
    if (flow) this.#sql.exec("INSERT OR REPLACE INTO flow (id, json) VALUES (0, ?)", JSON.stringify(flow));
  }

  /** Writes every mutable column of the run (the event is written once, at creation; replays by addReplay). */
  saveRun(): void {
    const r = this.#mustRun();
    this.#sql.exec(
      `UPDATE run SET status = ?, output = ?, error = ?, attempt = ?, ended_at = ?, version = ?, settle_seq = ?`,
      r.status,
      r.outputJson,
      r.error ? JSON.stringify(r.error) : null,
      r.attempt,
      r.endedAt,
      r.version,
      r.settleSeq,
    );
  }

  /** Adds a record to the run's replay history, in a row of its own. */
  addReplay(record: ReplayRecord): void {
    const r = this.#mustRun();
    this.#sql.exec("INSERT INTO replays (n, record) VALUES (?, ?)", r.replays.length, JSON.stringify(record));
    r.replays.push(record);
  }

  putStep(s: StepState): void {
    this.#sql.exec(
      `INSERT OR REPLACE INTO steps (key, id, seq, status, attempts, retries, output, error, started_at, ended_at, settle_seq, plan_seq, mode, claimed_attempt, claim_token, deadline_at, wake_at, attempt_started_at, wait, invoke)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      s.key,
      s.id,
      s.seq,
      s.status,
      s.attempts,
      s.retries,
      s.outputJson,
      s.error ? JSON.stringify(s.error) : null,
      s.startedAt,
      s.endedAt,
      s.settleSeq,
      s.planSeq,
      s.mode,
      s.claimedAttempt,
      s.claimToken,
      s.deadlineAt,
      s.wakeAt,
      s.attemptStartedAt,
      s.wait ? JSON.stringify(s.wait) : null,
      s.invoke ? JSON.stringify(s.invoke) : null,
    );
    this.steps.set(s.key, s);
    this.nextSeq = Math.max(this.nextSeq, s.seq + 1);
  }

  /** A step held in memory only, until putStep: a step found and started at once is written once. */
  addStep(s: StepState): void {
    this.steps.set(s.key, s);
    this.nextSeq = Math.max(this.nextSeq, s.seq + 1);
  }

  deleteSteps(keys: string[]): void {
    for (const key of keys) {
      this.#sql.exec("DELETE FROM steps WHERE key = ?", key);
      this.#sql.exec("DELETE FROM attempts WHERE key = ?", key);
      this.steps.delete(key);
    }
  }

  /** Records a failed attempt of a step in its history. */
  addAttempt(key: string, n: number, startedAt: number | null, endedAt: number, errorJson: string): void {
    this.#sql.exec(
      "INSERT OR REPLACE INTO attempts (key, n, started_at, ended_at, error) VALUES (?, ?, ?, ?, ?)",
      key,
      n,
      startedAt,
      endedAt,
      errorJson,
    );
  }

  /** Every step's failed attempts, by key, oldest first. */
  attempts(): Map<string, FailedAttempt[]> {
    const byKey = new Map<string, FailedAttempt[]>();
    for (const r of this.#sql.exec("SELECT key, n, started_at, ended_at, error FROM attempts ORDER BY key, n").toArray()) {
      const list = byKey.get(String(r.key)) ?? [];
      list.push({ n: Number(r.n), startedAt: num(r.started_at), endedAt: Number(r.ended_at), error: JSON.parse(String(r.error)) });
      byKey.set(String(r.key), list);
    }
    return byKey;
  }

  /**
   * The run's state bytes as stored: every step's output and error, and
   * every failed attempt's error, in UTF-8, counted by SQLite without
   * encoding every output again in JS.
   */
  countStateBytes(): number {
    const bytes = (table: string, columns: string[]) =>
      columns.map((c) => `coalesce((SELECT sum(length(CAST(${c} AS BLOB))) FROM ${table}), 0)`).join(" + ");
    return Number(this.#sql.exec(`SELECT ${bytes("steps", ["output", "error"])} + ${bytes("attempts", ["error"])} AS n`).one().n);
  }

  setTimer(kind: TimerKind, ref: string, dueAt: number, volatile = false): void {
    const id = timerId(kind, ref);
    const existing = this.#timers.get(id);
    if (existing?.dueAt === dueAt && Boolean(existing.volatile) === volatile) return;
    if (volatile) {
      if (existing && !existing.volatile) this.#sql.exec("DELETE FROM timers WHERE kind = ? AND ref = ?", kind, ref);
      this.#timers.set(id, { kind, ref, dueAt, volatile });
      return;
    }
    this.#sql.exec("INSERT OR REPLACE INTO timers (kind, ref, due_at) VALUES (?, ?, ?)", kind, ref, dueAt);
    this.#timers.set(id, { kind, ref, dueAt });
  }

  clearTimer(kind: TimerKind, ref: string): void {
    const id = timerId(kind, ref);
    const existing = this.#timers.get(id);
    if (!existing) return;
    this.#timers.delete(id);
    if (!existing.volatile) this.#sql.exec("DELETE FROM timers WHERE kind = ? AND ref = ?", kind, ref);
  }

  clearTimers(kind: TimerKind): void {
    let stored = false;
    for (const [id, t] of this.#timers) {
      if (t.kind !== kind) continue;
      this.#timers.delete(id);
      stored ||= !t.volatile;
    }
    if (stored) this.#sql.exec("DELETE FROM timers WHERE kind = ?", kind);
  }

  /** Every timer due at `now`, earliest first. They stay stored until the caller clears each one it has handled. */
  dueTimers(now: number): Timer[] {
    return this.timers().filter((t) => t.dueAt <= now);
  }

  /** Clears a timer taken by `dueTimers` unless it has been set again since (same kind and ref, another time). */
  clearHandledTimer(t: Timer): void {
    if (this.#timers.get(timerId(t.kind, t.ref))?.dueAt === t.dueAt) this.clearTimer(t.kind, t.ref);
  }

  /** Forgets the run held in memory: its storage was deleted (it expired). */
  forget(): void {
    this.run = null;
    this.steps.clear();
    this.#timers.clear();
    this.nextSeq = 0;
  }

  nextTimerAt(): number | null {
    let next: number | null = null;
    for (const t of this.#timers.values()) if (next === null || t.dueAt < next) next = t.dueAt;
    return next;
  }

  /** The timer of this kind and ref, if set. */
  timer(kind: TimerKind, ref: string): Timer | undefined {
    return this.#timers.get(timerId(kind, ref));
  }

  hasTimer(kind: TimerKind): boolean {
    for (const t of this.#timers.values()) if (t.kind === kind) return true;
    return false;
  }

  timers(): Timer[] {
    return [...this.#timers.values()].sort((a, b) => a.dueAt - b.dueAt);
  }

  /** Stores where a remote function's run calls it; once, at creation. */
  saveRemote(target: RemoteTarget): void {
    this.#sql.exec("INSERT OR REPLACE INTO remote (id, json) VALUES (0, ?)", JSON.stringify(target));
  }

  /** Where the run's function is called, for a remote one; null for the engine's own (or a run stored before remote functions). */
  remoteTarget(): RemoteTarget | null {
    if (this.#sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'remote'").toArray().length === 0) return null;
    return parseJson<RemoteTarget>(this.#sql.exec("SELECT json FROM remote").toArray()[0]?.json);
  }

  eventJson(): string {
    return String(this.#sql.exec("SELECT json FROM event ORDER BY rowid LIMIT 1").toArray()[0]?.json ?? "null");
  }

  /** A batch's events as one JSON array, in order; null for a run of one event (its events are `[event]`). */
  batchJson(): string | null {
    const rows = this.#sql.exec<{ json: string }>("SELECT json FROM event ORDER BY rowid").toArray();
    return rows.length > 1 ? `[${rows.map((r) => r.json).join(",")}]` : null;
  }

  #mustRun(): RunState {
    if (!this.run) throw new Error("run not created");
    return this.run;
  }

  #runFromRow(r: Record<string, SqlStorageValue>): RunState {
    return {
      id: String(r.id),
      functionId: String(r.function_id),
      eventId: String(r.event_id),
      status: r.status as RunStatus,
      outputJson: (r.output as string | null) ?? null,
      error: parseJson<SerializedError>(r.error),
      attempt: Number(r.attempt),
      startedAt: Number(r.started_at),
      endedAt: num(r.ended_at),
      version: Number(r.version),
      settleSeq: Number(r.settle_seq),
      acceptedAt: Number(r.accepted_at),
      parent: parseJson<ParentLink>(r.parent),
      stateBytes: 0,
      replays: [],
      flow: null,
    };
  }

  #stepFromRow(r: Record<string, SqlStorageValue>): StepState {
    return {
      key: String(r.key),
      id: String(r.id),
      seq: Number(r.seq),
      status: r.status as StepStatus,
      attempts: Number(r.attempts),
      retries: Number(r.retries),
      outputJson: (r.output as string | null) ?? null,
      error: parseJson<SerializedError>(r.error),
      startedAt: num(r.started_at),
      endedAt: num(r.ended_at),
      settleSeq: num(r.settle_seq),
      planSeq: num(r.plan_seq),
      mode: (r.mode as StepState["mode"]) ?? null,
      claimedAttempt: num(r.claimed_attempt),
      claimToken: typeof r.claim_token === "string" ? r.claim_token : null,
      deadlineAt: num(r.deadline_at),
      wakeAt: num(r.wake_at),
      attemptStartedAt: num(r.attempt_started_at),
      wait: parseJson<WaitSpec>(r.wait),
      invoke: parseJson<InvokeSpec>(r.invoke),
    };
  }
}
