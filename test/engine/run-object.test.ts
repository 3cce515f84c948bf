import { abortAllDurableObjects, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../../src";
import { callsOf, down, fixed } from "../engine-fixture/functions";
import { api, onBind, sendEvents, settledRuns, waitFor } from "./helpers";

const testEnv = env as unknown as Env;
const stubOf = (runId: string) => testEnv.RUNS.get(testEnv.RUNS.idFromName(runId));

/** Bytes of the largest row of each of the object's tables, as SQLite counts a row against its limit (2 MB on the platform, not enforced locally). */
const largestRows = (runId: string) =>
  runInDurableObject(stubOf(runId), (_instance, ctx) => {
    const sql = ctx.storage.sql;
    const sizes: Record<string, number> = {};
    for (const { name } of sql
      .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '_cf%'")
      .toArray()) {
      const columns = sql.exec<{ name: string }>(`SELECT name FROM pragma_table_info('${name}')`).toArray();
      const bytes = columns.map((c) => `coalesce(length(CAST("${c.name}" AS BLOB)), 0)`).join(" + ");
      sizes[name] = Number(sql.exec(`SELECT coalesce(max(${bytes}), 0) AS n FROM "${name}"`).one().n);
    }
    return sizes;
  });

async function runIdOf(eventId: string): Promise<string> {
  return waitFor(async () => {
    const { body } = await api<{ runs?: { id: string }[] }>(`/api/v1/events/${eventId}`);
    return body.runs?.[0]?.id;
  }, `a run for ${eventId}`);
}

describe("the run's Durable Object", () => {
  it("does not re-run memoized steps after the object is torn down mid-run", async () => {
    const [eventId] = await sendEvents({ name: "test/evictable", data: { tag: "evict" } });
    const runId = await runIdOf(eventId!);
    const stub = stubOf(runId);
    await waitFor(async () => (callsOf("evict", "second") > 0 ? true : undefined), "the second step to start");
    // Like a crash or a deploy: the instance goes away while "second" is in flight; storage stays.
    await abortAllDurableObjects();
    // The alarm is the run's lease: it resumes an evicted run by replaying it.
    await runDurableObjectAlarm(stub);
    const [run] = await settledRuns(eventId!);
    expect(run!.status).toBe("completed");
    expect(run!.output).toEqual(["one", "two", "three"]);
    expect(callsOf("evict", "first")).toBe(1);
    expect(callsOf("evict", "third")).toBe(1);
    // The step in flight when the object went away runs again: at least once.
    expect(callsOf("evict", "second")).toBe(2);
  });

  it("stores only the lease while an inline step runs, and resumes a run whose lease was never written", async () => {
    const [eventId] = await sendEvents({ name: "test/evictable", data: { tag: "no-lease" } });
    const runId = await runIdOf(eventId!);
    const stub = stubOf(runId);
    await waitFor(async () => (callsOf("no-lease", "second") > 0 ? true : undefined), "the second step to start");
    // The inline step's timeout lives in memory only; the stored timers are the run's lease alone.
    const stored = await runInDurableObject(stub, async (_instance, ctx) => {
      const kinds = ctx.storage.sql
        .exec("SELECT kind FROM timers")
        .toArray()
        .map((r) => r.kind);
      // Now make it look like a crash in the run's first turn, before the lease was written.
      ctx.storage.sql.exec("DELETE FROM timers");
      await ctx.storage.deleteAlarm();
      return kinds;
    });
    expect(stored).toEqual(["lease"]);
    await abortAllDurableObjects();
    // Any touch (here a status read; in production the fan-out's redelivery) gives the run a lease due now.
    await stubOf(runId).getDetail();
    expect(await runDurableObjectAlarm(stubOf(runId))).toBe(true);
    const [run] = await settledRuns(eventId!);
    expect(run!.status).toBe("completed");
    expect(callsOf("no-lease", "first")).toBe(1);
    expect(callsOf("no-lease", "second")).toBe(2);
  });

  it("keeps an on-failure timer stored while onFailure runs, so an eviction in it calls onFailure again", async () => {
    down.add("evicted-on-failure");
    const [eventId] = await sendEvents({ name: "test/slow-on-failure", data: { tag: "evicted-on-failure" } });
    const runId = await runIdOf(eventId!);
    await waitFor(async () => (callsOf("evicted-on-failure", "onFailure") > 0 ? true : undefined), "onFailure to start");
    // The instance goes away inside the alarm's await on onFailure.
    await abortAllDurableObjects();
    down.delete("evicted-on-failure");
    const stub = stubOf(runId);
    const timers = await runInDurableObject(stub, (_instance, ctx) =>
      ctx.storage.sql
        .exec("SELECT kind FROM timers")
        .toArray()
        .map((r) => r.kind),
    );
    expect(timers).toContain("on-failure");
    await runDurableObjectAlarm(stub);
    await waitFor(async () => (callsOf("evicted-on-failure", "onFailure") === 2 ? true : undefined), "onFailure again");
    await waitFor(
      async () =>
        (await runInDurableObject(
          stub,
          (_instance, ctx) => ctx.storage.sql.exec("SELECT kind FROM timers WHERE kind = 'on-failure'").toArray().length,
        )) === 0
          ? true
          : undefined,
      "the on-failure timer to clear",
    );
    expect(callsOf("evicted-on-failure", "fails")).toBe(1);
    expect(callsOf("evicted-on-failure", "onFailure")).toBe(2);
  });

  it("sends no dead letter for a run replayed while its alarm was awaiting onFailure", async () => {
    const tag = "replayed-in-on-failure";
    const [eventId] = await sendEvents({ name: "test/slow-on-failure", data: { tag } });
    const runId = await runIdOf(eventId!);
    const deadLetters = async () =>
      (await api<{ deadLetters: { runId: string }[] }>("/api/v1/dead-letters?limit=100")).body.deadLetters.filter((d) => d.runId === runId);
    await waitFor(async () => ((await deadLetters()).length === 1 && callsOf(tag, "onFailure") === 1 ? true : undefined), "the failure");
    const stub = stubOf(runId);
    // One alarm pass with a retry of onFailure due before a re-send of the dead letter
    // (as after a failed send), in a fresh instance that reads them from storage.
    await runInDurableObject(stub, (_instance, ctx) => {
      const { version } = ctx.storage.sql.exec<{ version: number }>("SELECT version FROM run").one();
      ctx.storage.sql.exec("INSERT INTO timers (kind, ref, due_at) VALUES ('on-failure', ?, 1), ('dead-letter', 'run', 2)", `${version}:1`);
    });
    down.add(tag);
    await abortAllDurableObjects();
    await stubOf(runId).getDetail(); // the new instance arms the alarm for its stored timers
    await waitFor(async () => (callsOf(tag, "onFailure") === 2 ? true : undefined), "onFailure again, held");
    // While the alarm awaits onFailure, the run is fixed and replayed, and completes.
    fixed.add(tag);
    expect((await api(`/api/v1/runs/${runId}/replay`, { method: "POST" })).status).toBe(200);
    await waitFor(async () => ((await stubOf(runId).getDetail())?.status === "completed" ? true : undefined), "the replay to complete");
    down.delete(tag);
    await waitFor(
      async () =>
        (await runInDurableObject(
          stubOf(runId),
          (_instance, ctx) => ctx.storage.sql.exec("SELECT kind FROM timers WHERE kind != 'expire'").toArray().length,
        )) === 0
          ? true
          : undefined,
      "the alarm pass to end",
    );
    await new Promise((resolve) => setTimeout(resolve, 1000)); // room for a dead letter that should not come
    expect(await deadLetters()).toHaveLength(1);
    expect(callsOf(tag, "onFailure")).toBe(2);
  });

  it("does not try a dead letter again for a run replayed while its send was failing", async () => {
    const tag = "replayed-in-dead-letter-send";
    const [eventId] = await sendEvents({ name: "test/slow-on-failure", data: { tag } });
    const runId = await runIdOf(eventId!);
    await waitFor(async () => (callsOf(tag, "onFailure") === 1 ? true : undefined), "the failure");
    // A re-send of the dead letter comes due shortly, and the failures queue takes SEND_MS to refuse it:
    // time for the replay below to complete while the send is out, even on a loaded machine.
    const SEND_MS = 2000;
    await runInDurableObject(stubOf(runId), (_instance, ctx) => {
      ctx.storage.sql.exec("INSERT INTO timers (kind, ref, due_at) VALUES ('dead-letter', 'run', ?)", Date.now() + 300);
    });
    await abortAllDurableObjects();
    let sends = 0;
    const failing = {
      send: () =>
        new Promise((_resolve, reject) => {
          sends++;
          setTimeout(() => reject(new Error("queue down")), SEND_MS);
        }),
    };
    await runInDurableObject(stubOf(runId), (instance) => {
      const holder = instance as unknown as { env: Env };
      holder.env = { ...holder.env, FAILURES: failing as unknown as Env["FAILURES"] };
    });
    await waitFor(async () => (sends === 1 ? true : undefined), "the dead letter's send", 5_000);
    const sendStarted = Date.now();
    // While the send is out, the run is fixed and replayed, and completes; then the send fails.
    fixed.add(tag);
    expect((await api(`/api/v1/runs/${runId}/replay`, { method: "POST" })).status).toBe(200);
    await waitFor(async () => ((await stubOf(runId).getDetail())?.status === "completed" ? true : undefined), "the replay to complete");
    expect(Date.now() - sendStarted).toBeLessThan(SEND_MS);
    // The send fails, then room for a retry of it that should not come.
    await new Promise((resolve) => setTimeout(resolve, sendStarted + SEND_MS + 500 - Date.now()));
    const timers = await runInDurableObject(stubOf(runId), (_instance, ctx) =>
      ctx.storage.sql
        .exec("SELECT kind FROM timers")
        .toArray()
        .map((r) => r.kind),
    );
    expect(timers).not.toContain("dead-letter");
    expect(sends).toBe(1);
  });

  it("stores the dead letter of a failure that came while a replay awaited the previous one's, before replaying it", async () => {
    const tag = "replay-race";
    down.add(tag);
    const [eventId] = await sendEvents({ name: "test/replayable", data: { tag } });
    const runId = await runIdOf(eventId!);
    const letterIds = async () =>
      (await testEnv.DB.prepare("SELECT id FROM dead_letters WHERE run_id = ? ORDER BY id").bind(runId).all<{ id: string }>()).results.map(
        (r) => r.id,
      );
    await waitFor(async () => ((await letterIds()).length === 1 ? true : undefined), "the first failure's dead letter");
    const stored = () =>
      runInDurableObject(stubOf(runId), (_instance, ctx) =>
        ctx.storage.sql.exec<{ status: string; version: number }>("SELECT status, version FROM run").one(),
      );
    expect(await stored()).toMatchObject({ status: "failed", version: 2 });
    // The failures queue is down, and the object's first look for a dead letter in D1 waits until released.
    let looks = 0;
    let released = false;
    await runInDurableObject(stubOf(runId), (instance) => {
      const holder = instance as unknown as { env: Env };
      const db = holder.env.DB;
      const DB = onBind(db, (sql, values) => {
        if (!sql.startsWith("SELECT 1 FROM dead_letters") || ++looks > 1) return undefined;
        return {
          first: async () => {
            while (!released) await new Promise((resolve) => setTimeout(resolve, 10));
            return db
              .prepare(sql)
              .bind(...values)
              .first();
          },
        };
      });
      const FAILURES = { send: () => Promise.reject(new Error("queue down")) } as unknown as Env["FAILURES"];
      holder.env = { ...holder.env, DB, FAILURES };
    });
    // Replay A looks for the first failure's dead letter, held there; replay B meanwhile replays it, and the run fails again.
    const a = stubOf(runId).replay();
    await waitFor(async () => (looks === 1 ? true : undefined), "replay A's look");
    expect(await stubOf(runId).replay()).toMatchObject({ replayed: true });
    await waitFor(async () => ((await stored()).version === 4 ? true : undefined), "the second failure");
    down.delete(tag);
    released = true;
    expect(await a).toMatchObject({ replayed: true });
    // A replayed the second failure: its dead letter, which the queue never took, is in D1 first.
    expect(await letterIds()).toEqual([`${runId}.2`, `${runId}.4`]);
    await waitFor(async () => ((await stored()).status === "completed" ? true : undefined), "the replay to complete");
    await abortAllDurableObjects();
  });

  it("keeps the first committed result: a duplicate or late completion changes nothing", async () => {
    const [eventId] = await sendEvents({ name: "test/parallel", data: { tag: "dup", n: 2 } });
    const [run] = await settledRuns(eventId!);
    const stub = stubOf(run!.id);
    const before = await stub.getDetail();
    await stub.completeSteps([
      { key: "p0", attempt: 1, ok: true, outputJson: JSON.stringify("changed") },
      { key: "p1", attempt: 1, ok: false, error: { name: "Error", message: "late" }, nonRetriable: true },
      { key: "no-such-step", attempt: 1, ok: true, outputJson: "1" },
    ]);
    const after = await stub.getDetail();
    expect(after).toEqual(before);
    expect(after!.steps.map((s) => s.output)).toEqual([0, 1]);
  });

  it("fails the run at step 1001 with step_limit_exceeded and completes with exactly 1000", async () => {
    const [ok, over] = await sendEvents([
      { name: "test/sequential", data: { tag: "limit-ok", n: 1000 } },
      { name: "test/sequential", data: { tag: "limit-over", n: 1001 } },
    ]);
    const [okRun] = await settledRuns(ok!, 1, 30_000);
    expect(okRun!.status).toBe("completed");
    expect((okRun!.output as number[]).length).toBe(1000);
    const [overRun] = await settledRuns(over!, 1, 30_000);
    expect(overRun!.status).toBe("failed");
    expect(overRun!.error).toMatchObject({ code: "step_limit_exceeded" });
    expect(callsOf("limit-over", "add")).toBe(1000);
  });

  it("stores an output of exactly 1 MiB and fails one byte more with step_output_too_large, inline and queued", async () => {
    const MiB = 1024 * 1024;
    const ids = await sendEvents([
      { name: "test/sized", data: { tag: "s1", bytes: MiB } },
      { name: "test/sized", data: { tag: "s2", bytes: MiB + 1 } },
      { name: "test/sized", data: { tag: "s3", bytes: MiB, parallel: true } },
      { name: "test/sized", data: { tag: "s4", bytes: MiB + 1, parallel: true } },
    ]);
    const runs = await Promise.all(ids.map((id) => settledRuns(id, 1, 30_000).then((r) => r[0]!)));
    expect(runs.map((r) => r.status)).toEqual(["completed", "failed", "completed", "failed"]);
    expect(runs[0]!.output).toBe(MiB - 2);
    expect(runs[2]!.output).toBe(MiB - 2);
    for (const failed of [runs[1]!, runs[3]!]) {
      expect(failed.error).toMatchObject({ code: "step_output_too_large" });
      const big = failed.steps.find((s) => s.id === "big")!;
      expect(big).toMatchObject({ status: "failed", attempts: 1, error: { code: "step_output_too_large" } });
    }
    // The object stays readable after refusing the output.
    expect((await stubOf(runs[1]!.id).getDetail())?.status).toBe("failed");
  });

  it("keeps every row under 2 MB for an event of 1 MiB and an output of 1 MiB, and moves an older run's event to its own row", async () => {
    const MiB = 1024 * 1024;
    const pad = "p".repeat(MiB - 100); // the request body just under its 1 MiB limit
    const [eventId] = await sendEvents({ name: "test/big-output", data: { tag: "row", bytes: MiB, pad } });
    const [run] = await settledRuns(eventId!, 1, 30_000);
    expect(run!.status).toBe("completed");
    expect((run!.output as string).length).toBe(MiB - 2);
    for (const bytes of Object.values(await largestRows(run!.id))) expect(bytes).toBeLessThanOrEqual(2_000_000);
    await abortAllDurableObjects();
    const claim = await stubOf(run!.id).claimSteps(0, []);
    expect(JSON.parse(claim!.eventJson).data.pad).toBe(pad);
  });
});
