// Replaying failed runs: one run, and in bulk from their dead letters.
import { createExecutionContext, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../../src";
import { callsOf, down } from "../worker/functions";
import worker from "../worker/index";
import { api, BASE, type DeadLetter, deadLettersOf, sendEvents, settledRuns, waitFor, withFailingMethod } from "./helpers";

const testEnv = env as unknown as Env;

describe("replay", () => {
  it("re-runs a failed run from its failed step without re-running earlier steps, and keeps its history", async () => {
    down.add("rp1");
    const [id] = await sendEvents({ name: "test/replayable", data: { tag: "rp1" } });
    const [failed] = await settledRuns(id!);
    expect(failed!.status).toBe("failed");
    expect(callsOf("rp1", "second")).toBe(2);
    down.delete("rp1");
    const res = await api<{ status: string }>(`/api/v1/runs/${failed!.id}/replay`, { method: "POST" });
    expect(res).toMatchObject({ status: 200, body: { status: "running" } });
    const run = await waitFor(async () => {
      const { body } = await api<{ status: string; output?: unknown; replays?: unknown[]; steps: { id: string; attempts: number }[] }>(
        `/api/v1/runs/${failed!.id}`,
      );
      return body.status === "completed" ? body : undefined;
    }, "the replayed run to complete");
    expect(run.output).toBe("ab");
    expect(callsOf("rp1", "first")).toBe(1);
    expect(callsOf("rp1", "second")).toBe(3);
    expect(run.steps.find((s) => s.id === "second")).toMatchObject({ attempts: 1 });
    expect(run.replays).toEqual([
      { at: expect.any(String), from: "failed-step", previousError: expect.objectContaining({ message: "provider is down" }) },
    ]);
    const again = await api<{ error: { code: string } }>(`/api/v1/runs/${failed!.id}/replay`, { method: "POST" });
    expect(again).toMatchObject({ status: 409, body: { error: { code: "run_not_failed" } } });
  });

  it("ignores results from before a replay: a step still out when the run failed cannot settle the replayed attempt", async () => {
    down.add("race1");
    const [id] = await sendEvents({ name: "test/replay-race", data: { tag: "race1", slowMs: 700 } });
    const [failed] = await settledRuns(id!);
    expect(failed!.status).toBe("failed");
    expect(failed!.error).toMatchObject({ message: "fast is down" });
    expect(callsOf("race1", "slow")).toBe(1); // the first "slow" is still sleeping, and will fail
    down.delete("race1");
    const res = await api<{ status: string }>(`/api/v1/runs/${failed!.id}/replay`, { method: "POST" });
    expect(res.status).toBe(200);
    const run = await waitFor(async () => {
      const { body } = await api<{ status: string; output?: unknown; error?: unknown }>(`/api/v1/runs/${failed!.id}`);
      return body.status === "running" ? undefined : body;
    }, "the replayed run to end");
    expect(run).toMatchObject({ status: "completed", output: ["fast", "slow"] });
    expect(callsOf("race1", "slow")).toBe(2);
  });

  it("records a sibling's late failure on a failed run as final: no retry is scheduled for a run that has ended", async () => {
    down.add("late-sibling");
    const [id] = await sendEvents({ name: "test/replay-race", data: { tag: "late-sibling", slowMs: 300 } });
    const [failed] = await settledRuns(id!);
    expect(failed!.status).toBe("failed");
    type Detail = { steps: { id: string; status: string; attempts: number; error?: { message: string } }[] };
    // "slow" has a retry left, but its failure arrives after "fast" failed the run.
    const detail = await waitFor(async () => {
      const { body } = await api<Detail>(`/api/v1/runs/${failed!.id}`);
      return body.steps.find((s) => s.id === "slow")?.status === "running" ? undefined : body;
    }, "slow's late result");
    down.delete("late-sibling");
    expect(detail.steps.find((s) => s.id === "slow")).toMatchObject({
      status: "failed",
      attempts: 1,
      error: { message: "slow was down when it started" },
    });
    const timers = await runInDurableObject(testEnv.RUNS.get(testEnv.RUNS.idFromName(failed!.id)), (_instance, ctx) =>
      ctx.storage.sql
        .exec("SELECT kind FROM timers")
        .toArray()
        .map((r) => r.kind),
    );
    expect(timers).not.toContain("step-retry");
    expect(callsOf("late-sibling", "slow")).toBe(1);
  });

  it("fails a run at once with nested_step when a step's function calls step.run", async () => {
    const started = Date.now();
    const [id] = await sendEvents({ name: "test/nested-step" });
    const [run] = await settledRuns(id!);
    expect(run).toMatchObject({ status: "failed", error: { code: "nested_step", stepId: "outer" } });
    expect(run!.steps.map((s) => [s.id, s.status, s.attempts])).toEqual([["outer", "failed", 1]]);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it("bulk-replays a run only for a failure it chose: a run that has failed again since is left alone", async () => {
    down.add("superseded1");
    const [id] = await sendEvents({ name: "test/replayable", data: { tag: "superseded1" } });
    const [failed] = await settledRuns(id!);
    expect(failed!.status).toBe("failed");
    const current = await waitFor(async () => (await deadLettersOf(failed!.id))[0], "the run's dead letter");
    // A record of an earlier failure of the same run (version 1), landing late with a code of its own.
    const late = `${failed!.id}.1`;
    await testEnv.DB.prepare(
      "INSERT INTO dead_letters (id, source, run_id, run_version, function_id, step_key, attempts, error_name, error_message, error_code, failed_at) VALUES (?, 'run', ?, 1, 'replayable', 'second', 1, 'Error', 'earlier', 'late_code', ?)",
    )
      .bind(late, failed!.id, Date.now() - 1000)
      .run();
    down.delete("superseded1");
    const res = await api<{ replayed: number; skipped: number }>("/api/v1/dead-letters/replay", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ code: "late_code" }),
    });
    expect(res.body).toMatchObject({ replayed: 0, skipped: 1 });
    expect((await api<{ status: string }>(`/api/v1/runs/${failed!.id}`)).body.status).toBe("failed");
    type Letter = DeadLetter & { replayCount: number; replayedAt?: string };
    const letters = new Map((await deadLettersOf(failed!.id)).map((d) => [d.id, d as Letter]));
    expect(letters.get(late)).toMatchObject({ replayCount: 0, replayedAt: expect.any(String) });
    expect(letters.get(current.id)?.replayedAt).toBeUndefined();
  });

  it("bulk-replays a run only for the failure its dead letter's run version names, whatever the letter's id", async () => {
    down.add("version1");
    const [id] = await sendEvents({ name: "test/replayable", data: { tag: "version1" } });
    const [failed] = await settledRuns(id!);
    expect(failed!.status).toBe("failed");
    await waitFor(async () => (await deadLettersOf(failed!.id))[0], "the run's dead letter");
    // A late record of an earlier failure of the same run (version 1), under an id that does not end in its version.
    await testEnv.DB.prepare(
      "INSERT INTO dead_letters (id, source, run_id, run_version, function_id, step_key, attempts, error_name, error_message, error_code, failed_at) VALUES (?, 'run', ?, 1, 'replayable', 'second', 1, 'Error', 'earlier', 'version_code', ?)",
    )
      .bind(`${failed!.id}.earlier`, failed!.id, Date.now() - 1000)
      .run();
    down.delete("version1");
    const res = await api<{ replayed: number; skipped: number }>("/api/v1/dead-letters/replay", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ code: "version_code" }),
    });
    expect(res.body).toMatchObject({ replayed: 0, skipped: 1 });
    expect((await api<{ status: string }>(`/api/v1/runs/${failed!.id}`)).body.status).toBe("failed");
  });

  it("replays from the start when asked", async () => {
    down.add("rp2");
    const [id] = await sendEvents({ name: "test/replayable", data: { tag: "rp2" } });
    const [failed] = await settledRuns(id!);
    down.delete("rp2");
    await api(`/api/v1/runs/${failed!.id}/replay`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ from: "start" }),
    });
    await waitFor(
      async () => ((await api<{ status: string }>(`/api/v1/runs/${failed!.id}`)).body.status === "completed" ? true : undefined),
      "completion",
    );
    expect(callsOf("rp2", "first")).toBe(2);
  });

  it("bulk-replays 50 failed runs to completion, and a second bulk replay runs nothing again", async () => {
    const tags = Array.from({ length: 50 }, (_, i) => `bulk${i}`);
    for (const t of tags) down.add(t);
    const ids = await sendEvents(tags.map((tag) => ({ name: "test/replayable", data: { tag } })));
    const runs = (await Promise.all(ids.map((id) => settledRuns(id, 1, 30_000)))).map((r) => r[0]!);
    expect(runs.every((r) => r.status === "failed")).toBe(true);
    await waitFor(
      async () => {
        const { body } = await api<{ deadLetters: DeadLetter[] }>(`/api/v1/dead-letters?functionId=replayable&limit=100`);
        const mine = body.deadLetters.filter((d) => runs.some((r) => r.id === d.runId));
        return mine.length === 50 ? true : undefined;
      },
      "50 dead letters",
      20_000,
    );
    for (const t of tags) down.delete(t);
    const first = await api<{ replayed: number; remaining: boolean }>(`/api/v1/dead-letters/replay`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ functionId: "replayable" }),
    });
    expect(first.status).toBe(200);
    expect(first.body.replayed).toBeGreaterThanOrEqual(50);
    const second = await api<{ replayed: number }>(`/api/v1/dead-letters/replay`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ functionId: "replayable" }),
    });
    expect(second.body.replayed).toBe(0);
    for (const r of runs) {
      await waitFor(
        async () => ((await api<{ status: string }>(`/api/v1/runs/${r.id}`)).body.status === "completed" ? true : undefined),
        `run ${r.id}`,
        20_000,
      );
    }
    for (const t of tags) {
      expect(callsOf(t, "first")).toBe(1);
      expect(callsOf(t, "second")).toBe(3);
    }
  });

  it("marks only the dead letters a bulk replay found: one recorded after the call began stays replayable", async () => {
    down.add("late1");
    const since = Date.now();
    const [id] = await sendEvents({ name: "test/replayable", data: { tag: "late1" } });
    const [failed] = await settledRuns(id!);
    expect(failed!.status).toBe("failed");
    const mine = async () => {
      const { body } = await api<{ deadLetters: (DeadLetter & { replayCount: number })[] }>(
        `/api/v1/dead-letters?functionId=replayable&since=${since}&limit=100`,
      );
      return body.deadLetters.filter((d) => d.runId === failed!.id);
    };
    await waitFor(async () => ((await mine()).length === 1 ? true : undefined), "the first dead letter");
    // The run's next failure, as if its record landed while the bulk call was still replaying other runs.
    await testEnv.DB.prepare(
      "INSERT INTO dead_letters (id, source, run_id, function_id, step_key, attempts, error_name, error_message, failed_at) VALUES (?, 'run', ?, 'replayable', 'second', 2, 'Error', 'provider is down', ?)",
    )
      .bind(`${failed!.id}.later`, failed!.id, Date.now() + 60_000)
      .run();
    const res = await api<{ replayed: number }>(`/api/v1/dead-letters/replay`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ functionId: "replayable", since }),
    });
    expect(res.body.replayed).toBe(1);
    const letters = await mine();
    expect(letters.map((d) => d.replayCount).sort()).toEqual([0, 1]);
    down.delete("late1");
  });

  it("reports a run whose object throws on bulk replay in `failed`, replays the rest, and marks only the dead letters of runs that replayed", async () => {
    const since = Date.now();
    const tags = ["partial-a", "partial-b", "partial-c"];
    for (const t of tags) down.add(t);
    const ids = await sendEvents([...tags, "partial-ok"].map((tag) => ({ name: "test/replayable", data: { tag } })));
    const [a, b, c, ok] = (await Promise.all(ids.map((id) => settledRuns(id)))).map((r) => r[0]!);
    expect([a, b, c, ok].map((r) => r!.status)).toEqual(["failed", "failed", "failed", "completed"]);
    type Letter = DeadLetter & { replayCount: number; replayedAt?: string };
    const ghost = "01GGGGGGGGGGGGGGGGGGGGGGGG";
    const mine = async () => {
      const { body } = await api<{ deadLetters: Letter[] }>(`/api/v1/dead-letters?functionId=replayable&since=${since}&limit=100`);
      return new Map(
        body.deadLetters.filter((d) => [a, b, c, ok].some((r) => r!.id === d.runId) || d.runId === ghost).map((d) => [d.runId!, d]),
      );
    };
    await waitFor(async () => ((await mine()).size === 3 ? true : undefined), "3 dead letters");
    // Dead letters whose runs cannot be replayed: one of a run that completed, one of a run that does not exist.
    for (const runId of [ok!.id, ghost]) {
      await testEnv.DB.prepare(
        "INSERT INTO dead_letters (id, source, run_id, function_id, step_key, attempts, error_name, error_message, failed_at) VALUES (?, 'run', ?, 'replayable', 'second', 2, 'Error', 'provider is down', ?)",
      )
        .bind(`${runId}.stale`, runId, Date.now())
        .run();
    }
    for (const t of tags) down.delete(t);
    const broken = testEnv.RUNS.idFromName(b!.id);
    const RUNS = withFailingMethod(testEnv.RUNS, broken, "replay", new Error("object reset; token=sekrit"));
    const replay = async (e: Env) => {
      const res = await worker.fetch(
        new Request(`${BASE}/api/v1/dead-letters/replay`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ functionId: "replayable", since, until: Date.now() + 1 }),
        }),
        e,
        createExecutionContext(),
      );
      return { status: res.status, text: await res.text() };
    };
    const first = await replay({ ...testEnv, RUNS });
    expect(first.status).toBe(200);
    expect(first.text).not.toContain("sekrit");
    const body = JSON.parse(first.text) as {
      replayed: number;
      skipped: number;
      runIds: string[];
      failed: { runId: string; message: string }[];
    };
    expect(body).toMatchObject({ replayed: 2, skipped: 2, remaining: false });
    expect([...body.runIds].sort()).toEqual([a!.id, c!.id].sort());
    expect(body.failed).toEqual([{ runId: b!.id, message: expect.stringContaining("calling again retries it") }]);
    let letters = await mine();
    expect([a, b, c, ok].map((r) => letters.get(r!.id)?.replayCount)).toEqual([1, 0, 1, 0]);
    expect(letters.get(ghost)).toMatchObject({ replayCount: 0 });
    expect(letters.get(ghost)?.replayedAt).toBeUndefined();
    expect(letters.get(b!.id)?.replayedAt).toBeUndefined();
    // The completed run was replayed since its stale letter: settled, with no replay counted, so no later call finds it.
    expect(letters.get(ok!.id)).toMatchObject({ replayCount: 0, replayedAt: expect.any(String) });
    const one = await worker.fetch(
      new Request(`${BASE}/api/v1/runs/${b!.id}/replay`, { method: "POST" }),
      { ...testEnv, RUNS },
      createExecutionContext(),
    );
    expect({ status: one.status, ...((await one.json()) as { error: object }) }).toMatchObject({
      status: 503,
      error: { code: "replay_failed" },
    });
    // Called again with the object answering: the run that failed to replay is retried; only the missing run's letter is found again.
    const second = JSON.parse((await replay(testEnv)).text) as typeof body;
    expect(second).toMatchObject({ replayed: 1, skipped: 1, runIds: [b!.id], failed: [] });
    letters = await mine();
    expect([a, b, c, ok].map((r) => letters.get(r!.id)?.replayCount)).toEqual([1, 1, 1, 0]);
    expect(letters.get(ghost)).toMatchObject({ replayCount: 0 });
    for (const r of [a, b, c]) {
      await waitFor(
        async () => ((await api<{ status: string }>(`/api/v1/runs/${r!.id}`)).body.status === "completed" ? true : undefined),
        `run ${r!.id}`,
      );
    }
  });

  it("goes past the runs a bulk replay chose with its cursor: runs that stay unreplayed cannot crowd out the rest", async () => {
    down.add("crowd1");
    const since = Date.now();
    const [id] = await sendEvents({ name: "test/replayable", data: { tag: "crowd1" } });
    const [failed] = await settledRuns(id!);
    expect(failed!.status).toBe("failed");
    await waitFor(async () => {
      const { body } = await api<{ deadLetters: DeadLetter[] }>(`/api/v1/dead-letters?functionId=replayable&since=${since}`);
      return body.deadLetters.some((d) => d.runId === failed!.id) ? true : undefined;
    }, "the dead letter");
    // Dead letters of runs that do not exist (ordered before any ULID): every call finds them, and none can replay.
    const ghost = testEnv.DB.prepare(
      "INSERT INTO dead_letters (id, source, run_id, run_version, function_id, error_name, error_message, failed_at) VALUES (?, 'run', ?, 1, 'replayable', 'Error', 'gone', ?)",
    );
    await testEnv.DB.batch(["0-ghost-a", "0-ghost-b"].map((run) => ghost.bind(`${run}.1`, run, Date.now())));
    down.delete("crowd1");
    type Bulk = { replayed: number; skipped: number; remaining: boolean; runIds: string[]; nextCursor: string | null };
    const bulk = (body: object) =>
      api<Bulk>(`/api/v1/dead-letters/replay`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        // `until`: an earlier test leaves a dead letter dated a minute ahead.
        body: JSON.stringify({ functionId: "replayable", since, until: Date.now() + 1000, limit: 2, ...body }),
      });
    const first = await bulk({});
    expect(first.body).toMatchObject({ replayed: 0, skipped: 2, remaining: true, nextCursor: expect.any(String) });
    expect((await bulk({})).body).toMatchObject({ replayed: 0, skipped: 2, remaining: true });
    const next = await bulk({ cursor: first.body.nextCursor });
    expect(next.body).toMatchObject({ replayed: 1, skipped: 0, remaining: false, runIds: [failed!.id], nextCursor: null });
    await waitFor(
      async () => ((await api<{ status: string }>(`/api/v1/runs/${failed!.id}`)).body.status === "completed" ? true : undefined),
      "the replayed run",
    );
    expect(await bulk({ cursor: "not-a-cursor" })).toMatchObject({ status: 400, body: { error: { code: "invalid_request" } } });
    expect(await bulk({ limit: 501 })).toMatchObject({ status: 400, body: { error: { code: "invalid_request" } } });
  });

  it("validates replay filters", async () => {
    const bad = await api(`/api/v1/dead-letters/replay`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ since: "yesterday" }),
    });
    expect(bad).toMatchObject({ status: 400, body: { error: { code: "invalid_request" } } });
  });
});
