import { Inngest } from "inngest";
import { describe, expect, it } from "vitest";
import type { StepflareHttp } from "./client";
import type { WranglerDev } from "./harness";
import { serveDuringFile } from "./suite";

// The official client, unchanged: `baseUrl` points its event API at Stepflare
// whatever the mode (it wins over INNGEST_DEV and INNGEST_BASE_URL), and it
// posts the events as a JSON array to `${baseUrl}/e/${eventKey}`, expecting
// `{ ids, status: 200 }` back. Cloud mode insists on an event key; dev mode
// would send a dummy one, which Stepflare's dev mode also accepts.
let dev: WranglerDev;
let http: StepflareHttp;

const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;
const user = { user: { id: "u-inngest-1", email: "grace@example.com", name: "Grace Hopper" } };

serveDuringFile({ config: "examples/app/wrangler.toml", vars: { STEPFLARE_DEV: "true" } }, (d, h) => {
  dev = d;
  http = h;
});

describe.each([
  { mode: "cloud", isDev: false },
  { mode: "dev", isDev: true },
])("the inngest client in $mode mode", ({ mode, isDev }) => {
  const client = () => new Inngest({ id: `stepflare-e2e-${mode}`, baseUrl: dev.url, eventKey: "inngest-e2e-key", isDev });

  it("sends one event and answers Stepflare's id for it; the event's runs start", async () => {
    const { ids } = await client().send({ name: "app/user.signup", data: user });
    expect(ids).toHaveLength(1);
    expect(ids[0]).toMatch(ULID);
    const ev = await http.event(ids[0]!);
    expect(ev.event).toMatchObject({ id: ids[0], name: "app/user.signup", data: user });
    const runs = await http.settledRuns(ids[0]!, 4);
    expect([...runs.values()].map((r) => r.status)).toEqual(["completed", "completed", "completed", "completed"]);
  });

  it("sends an array and answers the ids in order", async () => {
    const { ids } = await client().send([
      { name: "stripe/charge.created", data: { email: "pay@example.com", charge: { id: `ch_${mode}`, amount: 100 } } },
      { name: "document/uploaded", data: { documentId: "doc_contract" } },
    ]);
    expect(ids).toHaveLength(2);
    expect((await http.event(ids[0]!)).event.name).toBe("stripe/charge.created");
    expect((await http.event(ids[1]!)).event.name).toBe("document/uploaded");
    const payment = await http.settledRuns(ids[0]!, 1);
    expect(payment.get("post-payment-flow")).toMatchObject({
      status: "completed",
      output: { user: { lastChargeId: `ch_${mode}`, paid: 100 } },
    });
    const doc = await http.settledRuns(ids[1]!, 3);
    expect(doc.get("classify-document")).toMatchObject({ status: "completed", output: { category: "contract" } });
  });

  it("keeps the id and ts the caller chose", async () => {
    const id = `inngest-chosen-${mode}-${Date.now()}`;
    const ts = 1_700_000_000_000;
    const { ids } = await client().send({ id, ts, name: "e2e/no-subscriber", data: { n: 1 } });
    expect(ids).toEqual([id]);
    const ev = await http.event(id);
    expect(ev.event).toMatchObject({ id, ts, name: "e2e/no-subscriber", data: { n: 1 } });
  });
});

describe("the inngest client and a refused event", () => {
  it("rejects the send when Stepflare answers 400", async () => {
    const inngest = new Inngest({ id: "stepflare-e2e-refused", baseUrl: dev.url, eventKey: "inngest-e2e-key", isDev: false });
    // The schema wants an email; the client retries a few times, then gives up.
    await expect(inngest.send({ name: "app/user.signup", data: { user: { id: "u", email: "not-an-email" } } })).rejects.toThrow(
      /Cannot process event payload|invalid_event/,
    );
  });
});

describe("the inngest client retrying a send whose answer was lost", () => {
  // The client stamps each send with `x-inngest-event-id-seed: <ms>,<entropy>`
  // and retries a failed send (up to 5 attempts) with the same body and the
  // same seed, so that the server derives the same event ids and the retry
  // starts nothing twice. Here Stepflare accepts the first attempt, the answer
  // is lost on the way back (a dropped connection), and the client retries.
  it("answers the ids of the first acceptance and starts the runs once", async () => {
    const seen: { seed: string | null; ids: string[] }[] = [];
    const lossyFetch: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      const body = (await res.clone().json()) as { ids?: string[] };
      seen.push({ seed: new Headers(init?.headers).get("x-inngest-event-id-seed"), ids: body.ids ?? [] });
      if (seen.length === 1) throw new TypeError("fetch failed: connection reset before the answer arrived");
      return res;
    };
    const inngest = new Inngest({
      id: "stepflare-e2e-retry",
      baseUrl: dev.url,
      eventKey: "inngest-e2e-key",
      isDev: false,
      fetch: lossyFetch,
    });
    const charge = { email: "retry@example.com", charge: { id: `ch_retry_${Date.now()}`, amount: 7 } };

    const { ids } = await inngest.send({ name: "stripe/charge.created", data: charge });

    expect(seen).toHaveLength(2);
    expect(seen[1]!.seed).toBe(seen[0]!.seed); // the same logical send, retried
    const first = seen[0]!.ids;
    // Every event Stepflare created for this one send, and the payment run each started.
    const created = [...new Set([...first, ...ids])];
    const paymentRuns = await Promise.all(created.map(async (id) => (await http.settledRuns(id, 1)).get("post-payment-flow")?.id));
    expect(paymentRuns).toHaveLength(1); // one charge, one post-payment run
    expect(ids).toEqual(first);
  });
});
