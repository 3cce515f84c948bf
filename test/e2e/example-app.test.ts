import { describe, expect, it } from "vitest";
import { crm, email, mailingList, stripe } from "../../examples/app/providers";
import { type RunDetail, type StepflareHttp, waitFor } from "./client";
import type { WranglerDev } from "./harness";
import { serveDuringFile } from "./suite";

// The example app exactly as `npm run dev` serves it: examples/app/wrangler.toml.
let dev: WranglerDev;
let http: StepflareHttp;
serveDuringFile({ config: "examples/app/wrangler.toml", vars: { STEPFLARE_DEV: "true" } }, (d, h) => {
  dev = d;
  http = h;
});

/** Each step as id, status, attempts and output: what a user reads in the run's detail. */
const stepsOf = (run: RunDetail | undefined) =>
  run?.steps.map((s) => ({ id: s.id, key: s.key, status: s.status, attempts: s.attempts, output: s.output }));
const completed = (id: string, output: unknown) => ({ id, key: id, status: "completed", attempts: 1, output });

describe("the example app under wrangler dev", () => {
  it("serves its nine functions", async () => {
    const res = await fetch(`${dev.url}/`);
    expect(await res.json()).toEqual({ name: "stepflare", functions: 9 });
  });

  it("app/user.signup fans out to four functions, each completed with its provider's answer", async () => {
    const user = { userId: "u-e2e-1", email: "ada@example.com", name: "Ada Lovelace" };
    const [eventId] = await http.send({ name: "app/user.signup", data: user });
    const runs = await http.settledRuns(eventId!, 4);
    expect([...runs.keys()].sort()).toEqual(["add-to-crm", "add-to-mailing-list", "send-welcome-email", "start-stripe-trial"]);
    for (const run of runs.values()) {
      expect(run).toMatchObject({ eventId, status: "completed", attempt: 0 });
      expect(run.error).toBeUndefined();
    }

    const welcome = email.send(user.email, "welcome");
    expect(welcome).toMatchObject({ provider: "fake-mail", to: "ada@example.com", template: "welcome" });
    expect(runs.get("send-welcome-email")?.output).toEqual(welcome);
    expect(stepsOf(runs.get("send-welcome-email"))).toEqual([completed("send-email", welcome)]);

    const customer = stripe.createCustomer(user.email);
    const subscription = stripe.createSubscription(customer.id, "pro", 14);
    expect(subscription).toMatchObject({ customerId: customer.id, plan: "pro", status: "trialing", trialDays: 14 });
    expect(runs.get("start-stripe-trial")?.output).toEqual({ customer, subscription });
    expect(stepsOf(runs.get("start-stripe-trial"))).toEqual([
      completed("create-customer", customer),
      completed("create-subscription", subscription),
    ]);

    const contact = crm.upsertContact(user.email, user.name);
    expect(contact).toMatchObject({ provider: "fake-crm", email: user.email, name: "Ada Lovelace" });
    expect(runs.get("add-to-crm")?.output).toEqual(contact);
    expect(stepsOf(runs.get("add-to-crm"))).toEqual([completed("upsert-contact", contact)]);

    const subscribed = { provider: "fake-list", list: "newsletter", email: user.email, subscribed: true };
    expect(mailingList.subscribe(user.email, "newsletter")).toEqual(subscribed);
    expect(runs.get("add-to-mailing-list")?.output).toEqual(subscribed);
    expect(stepsOf(runs.get("add-to-mailing-list"))).toEqual([completed("subscribe", subscribed)]);

    // The event as stored: the id ingest answered, the data as sent.
    const ev = await http.event(eventId!);
    expect(ev).toMatchObject({ dispatched: true, event: { id: eventId, name: "app/user.signup", data: user } });
  });

  it("document/uploaded runs three analyses, each fetching the content first", async () => {
    const text = "Invoice from Acme Corp. Amount due: 120 dollars, payable to Grace Hopper by Friday.";
    const [eventId] = await http.send({ name: "document/uploaded", data: { documentId: "doc-e2e-1", text } });
    const runs = await http.settledRuns(eventId!, 3);
    expect([...runs.keys()].sort()).toEqual(["classify-document", "extract-entities", "summarize-content"]);
    const fetched = { documentId: "doc-e2e-1", text, bytes: 83 };

    const summary = { documentId: "doc-e2e-1", summary: "Invoice from Acme Corp." };
    expect(runs.get("summarize-content")).toMatchObject({ status: "completed", output: summary });
    expect(stepsOf(runs.get("summarize-content"))).toEqual([completed("fetch-content", fetched), completed("summarize", summary)]);

    const category = { documentId: "doc-e2e-1", category: "invoice" };
    expect(runs.get("classify-document")).toMatchObject({ status: "completed", output: category });
    expect(stepsOf(runs.get("classify-document"))).toEqual([completed("fetch-content", fetched), completed("classify", category)]);

    const entities = { documentId: "doc-e2e-1", entities: ["Invoice", "Acme Corp", "Amount", "Grace Hopper", "Friday"] };
    expect(runs.get("extract-entities")).toMatchObject({ status: "completed", output: entities });
    expect(stepsOf(runs.get("extract-entities"))).toEqual([completed("fetch-content", fetched), completed("extract", entities)]);
  });

  it("stripe/charge.created runs its two steps in parallel and joins them", async () => {
    const charge = { chargeId: "ch_e2e_1", customerId: "cus_42", amount: 4200 };
    const [eventId] = await http.send({ name: "stripe/charge.created", data: charge });
    const runs = await http.settledRuns(eventId!, 1);
    const run = runs.get("post-payment-flow");
    const confirmation = email.send("cus_42@example.com", "payment-confirmation");
    const user = { customerId: "cus_42", lastChargeId: "ch_e2e_1", paid: 4200 };
    expect(run).toMatchObject({ status: "completed", output: { confirmation, user } });
    expect(stepsOf(run)).toEqual([completed("send-confirmation-email", confirmation), completed("update-user", user)]);
    // Found together, so both were started before either finished: one after the other, the second
    // would start no earlier than the first ended (in the same millisecond, for these instant providers).
    const [a, b] = run!.steps;
    expect(Date.parse(a!.startedAt!)).toBeLessThan(Date.parse(b!.endedAt!));
    expect(Date.parse(b!.startedAt!)).toBeLessThan(Date.parse(a!.endedAt!));
  });

  it("app/text.summarize summarizes every chunk in parallel, then the summaries", async () => {
    const text = "Durable steps survive restarts. Each step runs once! Parallel chunks finish together? Yes, and the summary joins them.";
    const [eventId] = await http.send({ name: "app/text.summarize", data: { text, chunkSize: 25 } });
    const runs = await http.settledRuns(eventId!, 1);
    const run = runs.get("summarize-text");
    const chunks = [
      "Durable steps survive res",
      "tarts. Each step runs onc",
      "e! Parallel chunks finish",
      " together? Yes, and the s",
      "ummary joins them.",
    ];
    const summaries = ["Durable steps survive res", "tarts.", "e!", " together?", "ummary joins them."];
    const summary = "Durable steps survive res tarts.";
    expect(run).toMatchObject({ status: "completed", output: { chunks: 5, summaries, summary } });
    expect(stepsOf(run)).toEqual([
      completed("split", chunks),
      ...summaries.map((s, i) => completed(`summarize-chunk-${i}`, s)),
      completed("summarize-summaries", summary),
    ]);
  });

  it("applies the schema default: chunkSize is 200 when left out", async () => {
    const text = "a".repeat(450);
    const [eventId] = await http.send({ name: "app/text.summarize", data: { text } });
    const run = (await http.settledRuns(eventId!, 1)).get("summarize-text");
    expect(run).toMatchObject({ status: "completed", output: { chunks: 3 } });
    expect((await http.event(eventId!)).event.data).toEqual({ text, chunkSize: 200 });
  });

  // The README's walkthrough "When the CRM is down: dead letters and replay", step by step.
  it("when the CRM is down: add-to-crm fails after 5 attempts, is dead-lettered, and a replay completes it", async () => {
    const setCrm = async (down: boolean) => {
      const res = await http.api<{ down: boolean }>("/example/crm", { method: "PUT", json: { down } });
      expect(res).toEqual({ status: 200, body: { down } });
    };
    await setCrm(true);
    try {
      const user = { userId: "u-e2e-crm", email: "crm-down@example.com", name: "Katherine Johnson" };
      const [eventId] = await http.send({ name: "app/user.signup", data: user });
      // Retries back off from 1 s: about 15 s to spend all five attempts.
      const runs = await http.settledRuns(eventId!, 4, 60_000);
      const failed = runs.get("add-to-crm")!;
      expect(failed).toMatchObject({
        status: "failed",
        error: { message: "CRM unavailable: 503 Service Unavailable", stepId: "upsert-contact" },
      });
      expect(failed.steps).toMatchObject([{ id: "upsert-contact", status: "failed", attempts: 5 }]);
      for (const fn of ["send-welcome-email", "start-stripe-trial", "add-to-mailing-list"]) expect(runs.get(fn)?.status).toBe("completed");

      type DeadLetters = {
        deadLetters: { runId: string; functionId: string; stepKey: string; attempts: number; error: { message: string } }[];
      };
      const letter = await waitFor(async () => {
        const { body } = await http.api<DeadLetters>("/api/v1/dead-letters?functionId=add-to-crm");
        return body.deadLetters.find((d) => d.runId === failed.id);
      }, "the dead letter of the failed run");
      expect(letter).toMatchObject({
        functionId: "add-to-crm",
        stepKey: "upsert-contact",
        attempts: 5,
        error: { message: "CRM unavailable: 503 Service Unavailable" },
      });

      await setCrm(false);
      const replay = await http.api<{ replayed: number; runIds: string[] }>("/api/v1/dead-letters/replay", {
        json: { functionId: "add-to-crm" },
      });
      expect(replay.status).toBe(200);
      expect(replay.body.runIds).toEqual([failed.id]);

      const replayed = await waitFor(async () => {
        const run = await http.run(failed.id);
        return run.status === "completed" ? run : undefined;
      }, "the replayed run to complete");
      expect(replayed.output).toEqual(crm.upsertContact(user.email, user.name));
      expect(replayed.replays).toMatchObject([
        { from: "failed-step", previousError: { message: "CRM unavailable: 503 Service Unavailable" } },
      ]);
      // Only the failed function ran again: the other three are exactly as they were.
      const after = await http.settledRuns(eventId!, 4);
      for (const fn of ["send-welcome-email", "start-stripe-trial", "add-to-mailing-list"]) expect(after.get(fn)).toEqual(runs.get(fn));
      const again = await http.api<{ replayed: number }>("/api/v1/dead-letters/replay", { json: { functionId: "add-to-crm" } });
      expect(again.body.replayed).toBe(0);
    } finally {
      await setCrm(false);
    }
  });
});
