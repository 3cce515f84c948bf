import SwaggerParser from "@apidevtools/swagger-parser";
import { describe, expect, it } from "vitest";
import { crm, DOCUMENTS, email, llm, mailingList, storage, stripe, users } from "../../examples/app/providers";
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
  it("serves its thirteen functions", async () => {
    const res = await fetch(`${dev.url}/`);
    expect(await res.json()).toEqual({ name: "stepflare", functions: 13 });
  });

  it("serves a valid OpenAPI 3.1 document holding the guides' event shapes", async () => {
    const res = await fetch(`${dev.url}/api/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    await SwaggerParser.validate(structuredClone(doc) as never); // throws, naming each fault, on a document that is not OpenAPI 3.1
    expect(doc.openapi).toBe("3.1.0");
    type Variant = { properties: { name: { const?: string }; data: unknown } };
    const body = doc.paths["/e/{eventKey}"]?.post as {
      requestBody: { content: { "application/json": { schema: { oneOf: [{ oneOf: Variant[] }] } } } };
    };
    const dataOf = (name: string) =>
      body.requestBody.content["application/json"].schema.oneOf[0].oneOf.find((v) => v.properties.name.const === name)?.properties.data;
    expect(dataOf("app/user.signup")).toMatchObject({ required: ["user"], properties: { user: { required: ["id", "email"] } } });
    expect(dataOf("document/uploaded")).toMatchObject({ required: ["documentId"] });
    expect(dataOf("stripe/charge.created")).toMatchObject({ required: ["email", "charge"] });
    expect(dataOf("app/text.summarize")).toMatchObject({ required: ["text"], properties: { chunkSize: { default: 200 } } });
  });

  // The event exactly as Inngest's fan-out guide sends it: the user under `data.user`.
  it("app/user.signup fans out to four functions, each completed with its provider's answer", async () => {
    const user = { id: "u-e2e-1", email: "ada@example.com" };
    const [eventId] = await http.send({ name: "app/user.signup", data: { user } });
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
    const subscription = stripe.createSubscription(customer.id, "price_pro_monthly", 14);
    expect(subscription).toMatchObject({ customerId: customer.id, status: "trialing", trialDays: 14 });
    expect(runs.get("start-stripe-trial")?.output).toEqual({ customer, subscription });
    expect(stepsOf(runs.get("start-stripe-trial"))).toEqual([
      completed("create-customer", customer),
      completed("create-subscription", subscription),
    ]);

    const contact = crm.upsertContact(user);
    expect(contact).toMatchObject({ provider: "fake-crm", userId: "u-e2e-1", email: user.email, name: null });
    expect(runs.get("add-to-crm")?.output).toEqual(contact);
    expect(stepsOf(runs.get("add-to-crm"))).toEqual([completed("upsert-contact", contact)]);

    const subscribed = { provider: "fake-list", list: "newsletter", email: user.email, subscribed: true };
    expect(mailingList.subscribe(user.email, "newsletter")).toEqual(subscribed);
    expect(runs.get("add-to-mailing-list")?.output).toEqual(subscribed);
    expect(stepsOf(runs.get("add-to-mailing-list"))).toEqual([completed("subscribe", subscribed)]);

    // The event as stored: the id ingest answered, the data as sent.
    const ev = await http.event(eventId!);
    expect(ev).toMatchObject({ dispatched: true, event: { id: eventId, name: "app/user.signup", data: { user } } });
  });

  it("app/trial.started sleeps 14 days in trial-ending-notice before its notice", async () => {
    const [eventId] = await http.send({ name: "app/trial.started", data: { email: "trial@example.com" } });
    const run = await waitFor(async () => {
      const [r] = (await http.event(eventId!)).runs;
      const detail = r && (await http.run(r.id));
      return detail?.status === "sleeping" ? detail : undefined;
    }, "the trial notice asleep");
    expect(run.functionId).toBe("trial-ending-notice");
    expect(run.steps).toMatchObject([{ id: "wait-for-trial-end", type: "sleep", status: "sleeping" }]);
    const [sleep] = run.steps;
    expect(Math.abs(Date.parse(sleep!.wakeAt!) - Date.parse(sleep!.startedAt!) - 14 * 86_400_000)).toBeLessThan(1000);
  });

  it("app/user.signup's trial-reminder waits for the user's upgrade, and stands down when it comes", async () => {
    const user = { id: `u-up-${Date.now()}`, email: "upgrader@example.com" };
    const [eventId] = await http.send({ name: "app/user.signup", data: { user } });
    const waiting = await waitFor(async () => {
      const r = (await http.event(eventId!)).runs.find((x) => x.functionId === "trial-reminder");
      const detail = r && (await http.run(r.id));
      return detail?.status === "waiting" ? detail : undefined;
    }, "the trial reminder waiting");
    expect(waiting.steps).toMatchObject([
      { id: "wait-for-upgrade", type: "wait", status: "waiting", wait: { event: "app/user.upgraded", match: "data.user.id" } },
    ]);
    // Another user's upgrade does not count; this user's does.
    await http.send({ name: "app/user.upgraded", data: { user: { id: "someone-else" } } });
    await http.send({ name: "app/user.upgraded", data: { user: { id: user.id }, plan: "pro" } });
    const done = await waitFor(async () => {
      const detail = await http.run(waiting.id);
      return detail.status === "completed" ? detail : undefined;
    }, "the trial reminder to stand down");
    expect(done.output).toEqual({ upgraded: true, reminded: false });
    expect(done.steps.map((s) => s.id)).toEqual(["wait-for-upgrade"]);
  });

  it("app/team.created fans out one invitation per invitee with step.sendEvent", async () => {
    const invitees = [{ email: "a@example.com" }, { email: "b@example.com" }, { email: "c@example.com" }];
    const [eventId] = await http.send({ name: "app/team.created", data: { team: { id: "team_1" }, invitees } });
    const runs = await http.settledRuns(eventId!, 1);
    const invite = runs.get("invite-team");
    expect(invite?.status).toBe("completed");
    const { ids } = invite!.output as { ids: string[] };
    expect(ids).toEqual(invitees.map((_, i) => `${invite!.id}.invite-each.${i}`));
    for (const [i, id] of ids.entries()) {
      const sent = await http.settledRuns(id, 1);
      const invitation = sent.get("send-invitation");
      expect(invitation).toMatchObject({ status: "completed", output: email.send(invitees[i]!.email, "team-invitation") });
    }
  });

  it("app/user.signup keeps a numeric user id and fields the schema does not name", async () => {
    const user = { id: 42, email: "grace@example.com", name: "Grace Hopper", plan: "pro" };
    const [eventId] = await http.send({ name: "app/user.signup", data: { user, source: "e2e" } });
    const runs = await http.settledRuns(eventId!, 4);
    expect(runs.get("add-to-crm")).toMatchObject({ status: "completed", output: { userId: "42", name: "Grace Hopper" } });
    expect((await http.event(eventId!)).event.data).toEqual({ user, source: "e2e" });
  });

  it("app/user.signup in the old flat shape is refused, naming data.user", async () => {
    const res = await http.post({ name: "app/user.signup", data: { userId: "u1", email: "flat@example.com" } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string; message: string } }).error).toMatchObject({
      code: "invalid_event",
      message: expect.stringMatching(/^event 0: data\.user: /),
    });
  });

  // The event carries the document's id alone; each function fetches the content itself.
  it("document/uploaded runs three analyses, each fetching the content first", async () => {
    const [eventId] = await http.send({ name: "document/uploaded", data: { documentId: "doc_invoice" } });
    const runs = await http.settledRuns(eventId!, 3);
    expect([...runs.keys()].sort()).toEqual(["classify-document", "extract-entities", "summarize-content"]);
    const fetched = { documentId: "doc_invoice", text: DOCUMENTS.doc_invoice, bytes: 70 };
    expect(storage.getContent("doc_invoice")).toEqual(fetched);

    const summary = { documentId: "doc_invoice", summary: "Invoice from Acme Corp to Grace Hopper." };
    expect(runs.get("summarize-content")).toMatchObject({ status: "completed", output: summary });
    expect(stepsOf(runs.get("summarize-content"))).toEqual([completed("fetch-content", fetched), completed("generate-summary", summary)]);

    const category = { documentId: "doc_invoice", category: "invoice" };
    expect(runs.get("classify-document")).toMatchObject({ status: "completed", output: category });
    expect(stepsOf(runs.get("classify-document"))).toEqual([completed("fetch-content", fetched), completed("classify", category)]);

    const entities = { documentId: "doc_invoice", entities: ["Invoice", "Acme Corp", "Grace Hopper", "Amount", "Friday"] };
    expect(runs.get("extract-entities")).toMatchObject({ status: "completed", output: entities });
    expect(stepsOf(runs.get("extract-entities"))).toEqual([completed("fetch-content", fetched), completed("extract", entities)]);
  });

  it("document/uploaded with any other id analyses the stored document its id picks", async () => {
    const [eventId] = await http.send({ name: "document/uploaded", data: { documentId: "doc-e2e-any" } });
    const runs = await http.settledRuns(eventId!, 3);
    const { text } = storage.getContent("doc-e2e-any");
    expect(Object.values(DOCUMENTS)).toContain(text);
    expect(runs.get("classify-document")).toMatchObject({ status: "completed", output: { category: llm.classify(text) } });
  });

  // The event as the parallelism guide sends it: the customer's email and the charge.
  it("stripe/charge.created runs its two steps in parallel and joins them", async () => {
    const charge = { id: "ch_e2e_1", amount: 4200, currency: "eur", customer: "cus_42" };
    const [eventId] = await http.send({ name: "stripe/charge.created", data: { email: "ada@example.com", charge } });
    const runs = await http.settledRuns(eventId!, 1);
    const run = runs.get("post-payment-flow");
    const confirmation = email.send("ada@example.com", "payment-confirmation");
    const user = users.recordCharge("ada@example.com", charge);
    expect(user).toEqual({ email: "ada@example.com", lastChargeId: "ch_e2e_1", paid: 4200, currency: "eur" });
    expect(run).toMatchObject({ status: "completed", output: { confirmation, user } });
    expect(stepsOf(run)).toEqual([completed("confirmation-email", confirmation), completed("update-user", user)]);
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
    const summaries = ["Durable steps survive res", "tarts.", "e!", " together?", "ummary joins them."];
    const summary = "Durable steps survive res tarts.";
    expect(run).toMatchObject({ status: "completed", output: { chunks: 5, summaries, summary } });
    // The split is pure, so it runs in the handler, not as a step.
    expect(stepsOf(run)).toEqual([
      ...summaries.map((s, i) => completed(`summarize-chunk-${i}`, s)),
      completed("summarize-summaries", summary),
    ]);
  });

  it("applies the schema default: chunkSize is 200 when left out, as in the guide's event", async () => {
    const text = "a".repeat(450);
    const [eventId] = await http.send({ name: "app/text.summarize", data: { text } });
    const run = (await http.settledRuns(eventId!, 1)).get("summarize-text");
    expect(run).toMatchObject({ status: "completed", output: { chunks: 3 } });
    expect((await http.event(eventId!)).event.data).toEqual({ text, chunkSize: 200 });
  });

  // The walkthrough in docs/operations.md "When the CRM is down: dead letters and replay", step by step.
  it("when the CRM is down: add-to-crm fails after 5 attempts, is dead-lettered, and a replay completes it", async () => {
    const setCrm = async (down: boolean) => {
      const res = await http.api<{ down: boolean }>("/example/crm", { method: "PUT", json: { down } });
      expect(res).toEqual({ status: 200, body: { down } });
    };
    await setCrm(true);
    try {
      const user = { id: "u-e2e-crm", email: "crm-down@example.com", name: "Katherine Johnson" };
      const [eventId] = await http.send({ name: "app/user.signup", data: { user } });
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
      expect(replayed.output).toEqual(crm.upsertContact(user));
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
