import { fromJson, type MemoEntry } from "../../sdk/internal";
import type { CatchUpContext } from "./rpc";
import type { RunStore } from "./store";
import { isSettled } from "./types";

/**
 * The memo a live execution starts from: the journal's settled steps, with
 * their settlement order. Steps settled later resolve through the execution's
 * pending steps, not through this.
 */
export function memoOf(store: RunStore): Map<string, MemoEntry> {
  const memo = new Map<string, MemoEntry>();
  for (const s of store.steps.values()) {
    const seq = s.settleSeq ?? undefined;
    if (s.status === "completed") memo.set(s.key, { status: "completed", output: fromJson(s.outputJson), seq });
    else if (s.status === "failed") memo.set(s.key, { status: "failed", error: s.error ?? { name: "Error", message: "step failed" }, seq });
  }
  return memo;
}

/** The journal as it stood at `planSeq`: what a catch-up to dispatched steps planned then must see. */
export function memoAsOf(store: RunStore, planSeq: number): CatchUpContext["memo"] {
  const memo: CatchUpContext["memo"] = [];
  const encoder = new TextEncoder();
  for (const s of store.steps.values()) {
    if (!isSettled(s.status) || (s.settleSeq ?? Infinity) > planSeq) continue;
    const seq = s.settleSeq ?? undefined;
    memo.push(
      s.status === "completed"
        ? { key: s.key, status: "completed", value: s.outputJson === null ? null : encoder.encode(s.outputJson), seq }
        : { key: s.key, status: "failed", value: encoder.encode(JSON.stringify(s.error)), seq },
    );
  }
  return memo;
}
