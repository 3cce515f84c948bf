import { describe, expect, it } from "vitest";
import { type EventDetail, type StepflareHttp, sleep } from "./client";
import { serveDuringFile } from "./suite";

let http: StepflareHttp;
serveDuringFile({ config: "examples/app/wrangler.toml", vars: { STEPFLARE_DEV: "true" } }, (_dev, h) => {
  http = h;
});

const signup = (id: string, name: string) => ({ id, name: "app/user.signup", data: { user: { id, email: "dup@example.com", name } } });
const runIds = (ev: EventDetail) => ev.runs.map((r) => r.id).sort();

/** Long enough for a duplicate that did start runs to show them in the index. */
const SETTLE_MS = 3_000;

// Each test has ids of its own and spends most of its time in SETTLE_MS: they run side by side.
describe.concurrent("a duplicate event id within the dedupe window", () => {
  it("answers the same id and keeps exactly the first acceptance's runs and payload", async () => {
    const id = `dup-${Date.now()}`;
    expect(await http.send(signup(id, "First"))).toEqual([id]);
    const first = await http.settledRuns(id, 4);
    const before = await http.event(id);
    expect(before.runs).toHaveLength(5); // four ended, and trial-reminder waiting for an upgrade

    expect(await http.send(signup(id, "Second"))).toEqual([id]);
    await sleep(SETTLE_MS);
    const after = await http.event(id);
    expect(runIds(after)).toEqual(runIds(before));
    expect(after.acceptedAt).toBe(before.acceptedAt);
    expect(after.event.data).toMatchObject({ user: { name: "First" } });
    // The runs are the first ones, untouched: same output, no new attempt.
    const again = await http.settledRuns(id, 4);
    for (const [fn, run] of first) expect(again.get(fn)).toEqual(run);
    expect(again.get("add-to-crm")?.output).toMatchObject({ name: "First" });
  });

  it("answers the id twice when it repeats inside one request, and starts one set of runs", async () => {
    const id = `dup-batch-${Date.now()}`;
    const other = `dup-other-${Date.now()}`;
    expect(await http.send([signup(id, "A"), signup(other, "B"), signup(id, "C")])).toEqual([id, other, id]);
    await http.settledRuns(id, 4);
    await http.settledRuns(other, 4);
    await sleep(SETTLE_MS);
    const ev = await http.event(id);
    expect(ev.runs).toHaveLength(5);
    expect(new Set(ev.runs.map((r) => r.functionId)).size).toBe(5);
    expect(ev.event.data).toMatchObject({ user: { name: "A" } });
  });

  it("dedupes an id whose event nobody subscribes to, too", async () => {
    const id = `dup-nobody-${Date.now()}`;
    expect(await http.send({ id, name: "e2e/nobody", data: { n: 1 } })).toEqual([id]);
    expect(
      await http.send({ id, name: "stripe/charge.created", data: { email: "x@example.com", charge: { id: "c", amount: 1 } } }),
    ).toEqual([id]);
    await sleep(SETTLE_MS);
    const ev = await http.event(id);
    // The first acceptance wins: still the unsubscribed event, so no payment run.
    expect(ev.event.name).toBe("e2e/nobody");
    expect(ev.runs).toEqual([]);
  });
});
