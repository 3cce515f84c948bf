import { describe, expect, it } from "vitest";
import { callsOf, down } from "../worker/functions";
import { api, sendEvents, settledRuns, waitFor } from "./helpers";

type EventRuns = { runs: { id: string; functionId: string; status: string }[] };
const welcomed = (tag: string, users: string[]) => users.map((u) => callsOf(tag, `welcome-${u}`));

describe("step.sendEvent", () => {
  it("sends events that start their subscribers, each once, with ids derived from the run and the step", async () => {
    const users = ["u1", "u2", "u3"];
    const [eventId] = await sendEvents({ name: "test/sender", data: { tag: "fan", users } });
    const [run] = await settledRuns(eventId!);
    expect(run!.status).toBe("completed");
    const { ids } = run!.output as { ids: string[] };
    expect(ids).toEqual(users.map((_, i) => `${run!.id}.fan.${i}`));
    await waitFor(async () => (welcomed("fan", users).every((n) => n === 1) ? true : undefined), "every welcome to run");
    for (const id of ids) {
      const { body } = await api<EventRuns>(`/api/v1/events/${id}`);
      expect(body.runs.map((r) => r.functionId)).toEqual(["welcomer"]);
    }
  });

  it("never sends twice: not when a later step fails and the run is replayed from the start", async () => {
    const users = ["a", "b"];
    down.add("resend");
    const [eventId] = await sendEvents({ name: "test/sender", data: { tag: "resend", users } });
    const [failed] = await settledRuns(eventId!);
    expect(failed!.status).toBe("failed");
    await waitFor(async () => (welcomed("resend", users).every((n) => n === 1) ? true : undefined), "the welcomes");
    down.delete("resend");
    expect((await api(`/api/v1/runs/${failed!.id}/replay`, { method: "POST", body: JSON.stringify({ from: "start" }) })).status).toBe(200);
    await waitFor(async () => {
      const d = (await api<{ status: string }>(`/api/v1/runs/${failed!.id}`)).body;
      return d.status === "completed" ? true : undefined;
    }, "the replay to complete");
    // The replay sent the same ids again: ingest's idempotency kept them from starting anything new.
    await new Promise((r) => setTimeout(r, 300));
    expect(welcomed("resend", users)).toEqual([1, 1]);
  });

  it("fails the step for good with invalid_event for an event ingest would refuse, naming the field", async () => {
    for (const [tag, events] of [
      ["bad-name", { name: "has a space", data: { tag: "x" } }],
      ["bad-schema", { name: "test/typed", data: { n: "not a number" } }],
      ["empty", []],
    ] as const) {
      const [eventId] = await sendEvents({ name: "test/sends-anything", data: { tag, events } });
      const [run] = await settledRuns(eventId!);
      expect(run, tag).toMatchObject({ status: "failed", error: { code: "invalid_event" } });
      expect(run!.steps[0], tag).toMatchObject({ id: "send", status: "failed", attempts: 1 });
    }
  });

  it("keeps an id the sender gave", async () => {
    const [eventId] = await sendEvents({
      name: "test/sends-anything",
      data: { tag: "own-id", events: { name: "test/welcome", id: "own-id-1", data: { tag: "own-id", userId: "z" } } },
    });
    const [run] = await settledRuns(eventId!);
    expect(run).toMatchObject({ status: "completed", output: { ids: ["own-id-1"] } });
    await waitFor(async () => (callsOf("own-id", "welcome-z") === 1 ? true : undefined), "the welcome");
  });
});
