import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../../env";
import { RunStore } from "../store";
import type { StepState } from "../types";
import { addFoundStep, admitRun, askSlot, createRun, endRun, holdSlot, recoverInterruptedSteps, resumeUnasked, startAttempt } from ".";

const testEnv = env as unknown as Env;

/**
 * In a fresh object of the run class (its own SQLite storage): a new run
 * whose `crashy` step, with `retries`, is in its inline attempt; `setUp`
 * shapes the journal before that attempt starts. Answers what `then` makes
 * of the stored journal.
 */
function withCrashyStep<T>(
  retries: number,
  setUp: (store: RunStore, crashy: StepState) => void,
  then: (storage: DurableObjectStorage) => T,
) {
  return runInDurableObject(testEnv.RUNS.get(testEnv.RUNS.newUniqueId()), (_instance, ctx) => {
    const store = new RunStore(ctx.storage);
    createRun(store, { runId: "01JOURNALTESTRUN000000000A", functionId: "fn", eventId: "e1" }, "{}", 1);
    const s = addFoundStep(store, "crashy", "crashy", retries);
    setUp(store, s);
    startAttempt(store, s, "inline", 1, 1000);
    return then(ctx.storage);
  });
}

describe("recoverInterruptedSteps", () => {
  it("fails an inline step interrupted on its last attempt and ends the settlement with a gap, as a batch of results does", async () => {
    const after = await withCrashyStep(
      0,
      () => {},
      (storage) => {
        recoverInterruptedSteps(new RunStore(storage), 2);
        const reloaded = new RunStore(storage);
        return { step: reloaded.steps.get("crashy"), runSeq: reloaded.run!.settleSeq };
      },
    );
    expect(after.step).toMatchObject({ status: "failed", error: { code: "step_interrupted" } });
    expect(after.runSeq).toBe(after.step!.settleSeq! + 1);
  });

  it("counts the interrupted step's error in place of its last attempt's, as a new instance counts it on load", async () => {
    const counts = await withCrashyStep(
      1,
      (store, s) => {
        const done = addFoundStep(store, "done", "done", 0);
        Object.assign(done, { status: "completed", outputJson: '"kept"' });
        store.putStep(done);
        // Its first attempt failed and was kept for the retry; the second is cut short.
        Object.assign(s, { seq: store.nextSeq, attempts: 1, error: { name: "Error", message: "\u2019".repeat(1000) } });
      },
      (storage) => {
        const loaded = new RunStore(storage);
        const before = loaded.run!.stateBytes;
        recoverInterruptedSteps(loaded, 2);
        const recounted = loaded.countStateBytes();
        return { before, running: loaded.run!.stateBytes, recounted, reloaded: new RunStore(storage).run!.stateBytes };
      },
    );
    expect(counts.before).toBe(6 + JSON.stringify({ name: "Error", message: "" }).length + 3000);
    expect(counts.running).toBeLessThan(counts.before);
    expect(counts).toMatchObject({ recounted: counts.running, reloaded: counts.running });
  });
});

describe("a run under a concurrency limit", () => {
  const inFreshObject = <T>(body: (storage: DurableObjectStorage) => T) =>
    runInDurableObject(testEnv.RUNS.get(testEnv.RUNS.newUniqueId()), (_instance, ctx) => body(ctx.storage));
  const newQueued = (storage: DurableObjectStorage) => {
    const store = new RunStore(storage);
    createRun(
      store,
      { runId: "01JOURNALTESTRUN000000000B", functionId: "fn", eventId: "e1", flow: { concurrency: true, startMs: undefined } },
      "{}",
      1,
    );
    return store;
  };

  it("is created with no admit timer; an instance that finds it queued without one asks its limits at once", async () => {
    const found = await inFreshObject((storage) => {
      const created = newQueued(storage);
      askSlot(created, "limit");
      const loaded = new RunStore(storage);
      const before = loaded.hasTimer("admit");
      resumeUnasked(loaded, 5);
      return { before, after: new RunStore(storage).timer("admit", "run")?.dueAt, asked: loaded.run!.flow!.asked };
    });
    expect(found).toEqual({ before: false, after: 5, asked: ["limit"] });
  });

  it("admitted in its first turn, leaves the lease to the turn's end; ending owes its releases in memory, storing none", async () => {
    const found = await inFreshObject((storage) => {
      const store = newQueued(storage);
      askSlot(store, "limit");
      holdSlot(store, "limit", false);
      admitRun(store, 2, undefined, true);
      const admitted = new RunStore(storage);
      endRun(store, "completed", { outputJson: "null" }, 3, false, 60_000);
      const ended = new RunStore(storage);
      return {
        held: admitted.run!.flow!.held,
        status: admitted.run!.status,
        lease: admitted.hasTimer("lease"),
        releases: store.releases,
        stored: ended.timers().map((t) => t.kind),
      };
    });
    expect(found).toEqual({ held: ["limit"], status: "running", lease: false, releases: ["1 limit"], stored: ["expire"] });
  });
});
