import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../../src";
import { api, settledRuns } from "./helpers";

const testEnv = env as unknown as Env;

describe("the sweeper", () => {
  it("re-enqueues an accepted event whose queue message was lost, and gives up after five sweeps", async () => {
    // An event stored as accepted a minute ago that never reached the queue (as after a local restart).
    const acceptedAt = Date.now() - 60_000;
    const event = { id: "lost-in-queue", name: "test/sequential", data: { tag: "swept", n: 1 }, ts: acceptedAt };
    await testEnv.DB.prepare("INSERT INTO events (id, name, payload, ts, accepted_at) VALUES (?, ?, ?, ?, ?)")
      .bind(event.id, event.name, JSON.stringify(event), event.ts, acceptedAt)
      .run();
    const sweeper = testEnv.SWEEPER.get(testEnv.SWEEPER.idFromName("sweeper"));
    expect(await sweeper.sweep()).toBe(1);
    const [run] = await settledRuns("lost-in-queue");
    expect(run!.status).toBe("completed");
    const { body } = await api<{ dispatched: boolean }>("/api/v1/events/lost-in-queue");
    expect(body.dispatched).toBe(true);
    expect(await sweeper.sweep()).toBe(0);

    // One that can never be fanned out (its stored payload is unusable) is swept five times, then left to the dead letters.
    await testEnv.DB.prepare("INSERT INTO events (id, name, payload, ts, accepted_at) VALUES ('broken', 'x/y', '{}', 0, ?)")
      .bind(acceptedAt)
      .run();
    const counts = [];
    for (let i = 0; i < 6; i++) counts.push(await sweeper.sweep());
    expect(counts).toEqual([1, 1, 1, 1, 1, 0]);
  });
});
