import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../env";
import { newRun, newStep, recoverInterruptedSteps, startAttempt } from "./journal";
import { RunStore } from "./store";

const testEnv = env as unknown as Env;

describe("recoverInterruptedSteps", () => {
  it("fails an inline step interrupted on its last attempt and ends the settlement with a gap, as a batch of results does", async () => {
    // A fresh object of the run class: its own SQLite storage, with no run in it.
    const stub = testEnv.RUNS.get(testEnv.RUNS.newUniqueId());
    const after = await runInDurableObject(stub, (_instance, ctx) => {
      const store = new RunStore(ctx.storage);
      store.createRun(newRun("01JOURNALTESTRUN000000000A", "fn", "e1", 1), "{}");
      const s = newStep("crashy", "crashy", 0, 0);
      store.addStep(s);
      startAttempt(store, s, "inline", 1, 1000);
      recoverInterruptedSteps(new RunStore(ctx.storage), 2);
      const reloaded = new RunStore(ctx.storage);
      return { step: reloaded.steps.get("crashy"), runSeq: reloaded.run!.settleSeq };
    });
    expect(after.step).toMatchObject({ status: "failed", error: { code: "step_interrupted" } });
    expect(after.runSeq).toBe(after.step!.settleSeq! + 1);
  });
});
