import { createServer, type Server } from "node:http";
import { Inngest, RetryAfterError } from "inngest";
import { serve } from "inngest/node";
import { freePort } from "./harness";

/**
 * An app on the official `inngest` SDK, unchanged but for its base URL: its
 * functions served by `inngest/node`'s `serve()` on a free port of this
 * Node process. Every step function counts its executions here, where the
 * engine cannot touch them.
 */
export class InngestApp {
  readonly calls = new Map<string, number>();
  /** While true, the `failing` function's step throws. */
  failing = true;
  /** The error message the `failing` function's onFailure handler last got. */
  lastFailure: string | undefined;
  /** When each run of the `single` function (concurrency 1) held its step: start and end, ms. */
  readonly intervals: [number, number][] = [];
  /** Per function id, the number of the discovery call to answer 503, once. */
  readonly failDiscovery = new Map<string, number>();
  readonly #discoveries = new Map<string, number>();
  #server: Server | undefined;
  #port = 0;

  constructor(readonly options: { id: string; engineUrl: string; signingKey?: string; isDev?: boolean }) {}

  get url(): string {
    return `http://127.0.0.1:${this.#port}/api/inngest`;
  }

  count(step: string): number {
    return this.calls.get(step) ?? 0;
  }

  #ran(step: string): void {
    this.calls.set(step, this.count(step) + 1);
  }

  functions(inngest: Inngest) {
    const sequential = inngest.createFunction(
      { id: "sequential", triggers: [{ event: "e2e/remote" }], retries: 1 },
      async ({ event, step }) => {
        const a = await step.run("a", () => (this.#ran(`a:${event.data.tag}`), Number(event.data.n) + 1));
        const b = await step.run("b", () => (this.#ran(`b:${event.data.tag}`), a * 2));
        await step.sleep("nap", "1s");
        const [c, d] = await Promise.all([
          step.run("c", async () => (this.#ran(`c:${event.data.tag}`), await pause(300), b + 1)),
          step.run("d", async () => (this.#ran(`d:${event.data.tag}`), await pause(300), b + 2)),
        ]);
        return { a, b, c, d };
      },
    );
    const waiting = inngest.createFunction({ id: "waiting", triggers: [{ event: "e2e/remote" }] }, async ({ event, step }) => {
      const approval = await step.waitForEvent("approval", { event: "e2e/remote.approved", match: "data.tag", timeout: "1m" });
      return step.run("after", () => (this.#ran(`after:${event.data.tag}`), { approved: approval?.data.ok ?? null }));
    });
    const failing = inngest.createFunction(
      {
        id: "failing",
        triggers: [{ event: "e2e/remote.fail" }],
        retries: 1,
        onFailure: ({ error }) => {
          this.#ran("onFailure");
          this.lastFailure = error.message;
        },
      },
      async ({ step }) => {
        await step.run("prepare", () => this.#ran("prepare"));
        return step.run("boom", () => {
          this.#ran("boom");
          if (this.failing) throw new Error("boom: the remote step failed");
          return "fixed";
        });
      },
    );
    const guarded = inngest.createFunction(
      { id: "guarded", triggers: [{ event: "e2e/remote.guarded" }, { event: "e2e/remote.unsigned" }] },
      async ({ step }) => step.run("guarded", () => (this.#ran("guarded"), "ran")),
    );
    const child = inngest.createFunction({ id: "child", triggers: [{ event: "e2e/remote.never" }] }, async ({ event }) => ({
      doubled: Number(event.data.n) * 2,
    }));
    const invoker = inngest.createFunction({ id: "invoker", triggers: [{ event: "e2e/remote.invoke" }] }, async ({ event, step }) =>
      step.invoke("call-child", { function: child, data: { n: event.data.n } }),
    );
    const ticker = inngest.createFunction({ id: "ticker", triggers: [{ cron: "* * * * *" }] }, async ({ step }) =>
      step.run("tick", () => (this.#ran("tick"), "ticked")),
    );
    const across = inngest.createFunction({ id: "across", triggers: [{ event: "e2e/remote.restart" }] }, async ({ step }) => {
      const before = await step.run("before", () => (this.#ran("before"), "b"));
      // Long enough that the test sees it asleep, and kills wrangler then, on a loaded machine too.
      await step.sleep("nap", "10s");
      const after = await step.run("after-restart", () => (this.#ran("after-restart"), "a"));
      return { before, after };
    });
    const cancellable = inngest.createFunction(
      { id: "cancellable", triggers: [{ event: "e2e/remote.long" }], cancelOn: [{ event: "e2e/remote.stop", match: "data.tag" }] },
      async ({ step }) => {
        await step.sleep("long", "1m");
        return step.run("never", () => (this.#ran("never"), "ran"));
      },
    );
    const huge = inngest.createFunction({ id: "huge", triggers: [{ event: "e2e/remote.huge" }] }, async ({ step }) =>
      step.run("big", () => "x".repeat(1_500_000)),
    );
    const fanned = inngest.createFunction({ id: "fanned", triggers: [{ event: "e2e/remote.fanned" }] }, async ({ step }) => {
      const [p, q] = await Promise.all([step.run("p", () => (this.#ran("p"), "p")), step.run("q", () => (this.#ran("q"), "q"))]);
      return `${p}${q}`;
    });
    const sender = inngest.createFunction({ id: "sender", triggers: [{ event: "e2e/remote.send" }] }, async ({ event, step }) =>
      step.sendEvent("forward", { name: "e2e/remote.invoke", data: { n: event.data.n } }),
    );
    const single = inngest.createFunction(
      { id: "single", triggers: [{ event: "e2e/remote.single" }], concurrency: { limit: 1 } },
      async ({ step }) =>
        step.run("work", async () => {
          const start = Date.now();
          await pause(400);
          this.intervals.push([start, Date.now()]);
          return "done";
        }),
    );
    const debounced = inngest.createFunction(
      { id: "debounced", triggers: [{ event: "e2e/remote.debounce" }], debounce: { period: "1s" } },
      async ({ event }) => event.data.n,
    );
    const rated = inngest.createFunction(
      { id: "rated", triggers: [{ event: "e2e/remote.rate" }], rateLimit: { limit: 1, period: "1m" } },
      async ({ event }) => event.data.n,
    );
    const patient = inngest.createFunction({ id: "patient", triggers: [{ event: "e2e/remote.patient" }] }, async ({ step }) =>
      step.run("busy-once", () => {
        this.#ran("busy-once");
        if (this.count("busy-once") === 1) throw new RetryAfterError("busy, come back later", "3s");
        return "served";
      }),
    );
    // The provider is the test's local server, named in the event; the engine makes the request.
    const thinker = inngest.createFunction({ id: "thinker", triggers: [{ event: "e2e/remote.think" }] }, async ({ event, step }) => {
      const model = step.ai.models.openai({ model: "gpt-e2e", baseUrl: event.data.baseUrl, apiKey: event.data.apiKey });
      const answer = await step.ai.infer("think", { model, body: { messages: [{ role: "user", content: event.data.prompt }] } });
      const after = await step.run("after-think", () => (this.#ran(`after-think:${event.data.prompt}`), "after"));
      return { answer, after };
    });
    return [
      thinker,
      sequential,
      waiting,
      failing,
      guarded,
      child,
      invoker,
      ticker,
      across,
      cancellable,
      huge,
      fanned,
      sender,
      single,
      debounced,
      rated,
      patient,
    ];
  }

  async start(): Promise<this> {
    this.#port = await freePort();
    const { id, engineUrl, signingKey, isDev = false } = this.options;
    const client = new Inngest({
      id,
      baseUrl: engineUrl,
      ...(signingKey ? { signingKey } : {}),
      isDev,
      eventKey: "e2e-dev-key",
      logger: quiet,
    });
    const handler = serve({ client, functions: this.functions(client) });
    this.#server = createServer((req, res) => {
      // An outage of one call, chosen by its number among the discovery calls of a function (`stepId=step`).
      const url = new URL(req.url ?? "/", "http://app");
      if (req.method === "POST" && url.searchParams.get("stepId") === "step") {
        const fnId = url.searchParams.get("fnId") ?? "";
        const n = (this.#discoveries.get(fnId) ?? 0) + 1;
        this.#discoveries.set(fnId, n);
        if (this.failDiscovery.get(fnId) === n) {
          res.writeHead(503, { "content-type": "text/plain" }).end("injected outage");
          return;
        }
      }
      return handler(req, res);
    });
    await new Promise<void>((resolve) => this.#server!.listen(this.#port, "127.0.0.1", resolve));
    return this;
  }

  async stop(): Promise<void> {
    await new Promise((resolve) => (this.#server ? this.#server.close(resolve) : resolve(undefined)));
  }
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
const nothing = () => {};
const quiet = { info: nothing, warn: nothing, error: nothing, debug: nothing };
