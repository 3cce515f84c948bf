import type { StoredEvent } from "../messages/events";
import type { RemoteTarget } from "../remote/target";
import type { ParentLink, RunStatus } from "./types";

/** What the run object's RPC methods take and answer. */

export interface StartRun {
  runId: string;
  functionId: string;
  event: StoredEvent;
  /** A batch's events (`batchEvents`), `event` first; absent for a run of one event. */
  events?: StoredEvent[];
  /** When the event was accepted (its waits look back on events since); the run's start when absent. */
  acceptedAt?: number;
  /** For a run started by step.invoke: where it reports its ending. */
  parent?: ParentLink;
  /** For a function another app serves: where to call it. The run keeps it. */
  remote?: RemoteTarget;
  /** Concurrency limits (object names) whose slot the fan-out took for this run under its first ticket: it starts holding them. */
  slots?: string[];
  /** The caller lets go of the slots of a run that stops executing in its first turn (`StartedRun.releases`), batched with others. */
  releasesBack?: boolean;
  now?: number;
}

/**
 * The run as its first turn left it. The fan-out writes this as the run's
 * listing row; a run that ended in its first turn sends no index message of its own.
 */
export interface StartedRun {
  created: boolean;
  status: RunStatus;
  startedAt: number;
  endedAt: number | null;
  errorCode: string | null;
  /** The index row version this state corresponds to. */
  version: number;
  /** With `releasesBack`: the slots and queue places (`ticket name`) the run let go of in its first turn, for the caller to release. */
  releases?: string[];
}

/** A steps consumer's claim of one planned step: its attempt, in the run's generation it was planned in. */
export interface ClaimRequest {
  key: string;
  attempt: number;
  gen: number;
}

export interface CatchUpContext {
  functionId: string;
  /** For a function another app serves: where to call it. */
  remote?: RemoteTarget;
  eventJson: string;
  /** A batch's events as a JSON array; absent for a run of one event. */
  batchJson?: string;
  attempt: number;
  /**
   * Settled steps up to the plan: the output JSON of a completed one, the
   * error JSON of a failed one, in UTF-8. As bytes they cross RPC at the size
   * the run state limit counts; as strings, one character past Latin-1 makes
   * the whole text two bytes a character, and a run at its limit would pass
   * the 32 MiB an RPC answer may hold.
   */
  memo: { key: string; status: "completed" | "failed"; value: Uint8Array | null; seq?: number }[];
  /** The requested steps this consumer may now run (claimed for their attempt). */
  claimed: string[];
}
