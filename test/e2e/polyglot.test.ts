import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { createInterface } from "node:readline";
import { afterAll, describe, expect, it } from "vitest";
import { type StepflareHttp, waitFor } from "./client";
import type { WranglerDev } from "./harness";
import { InngestApp } from "./inngest-app";
import { serveDuringFile } from "./suite";

// The seeds' "different languages": one event fans out to a TypeScript
// function in the engine, a TypeScript function on the official inngest SDK,
// and two Python functions served over the same protocol by
// test/e2e/python/inngest_spec.py (standard library only; PyPI is out of
// reach here). Every call is signed and every answer verified.
const SIGNING_KEY = `signkey-test-${"9f".repeat(32)}`;
const PYTHON_APP = path.resolve(import.meta.dirname, "python/app.py");

let dev: WranglerDev;
let http: StepflareHttp;
serveDuringFile({ config: "test/e2e/worker/wrangler.toml", vars: { STEPFLARE_DEV: "true", INNGEST_SIGNING_KEY: SIGNING_KEY } }, (d, h) => {
  dev = d;
  http = h;
});

/** The Python app as a child process; answers its serve URL once it listens. */
class PythonApp {
  #child: ChildProcess | undefined;
  url = "";

  async start(engineUrl: string): Promise<this> {
    const child = spawn("python3", [PYTHON_APP], {
      env: { ...process.env, STEPFLARE_URL: engineUrl, INNGEST_SIGNING_KEY: SIGNING_KEY, INNGEST_DEV: "", ORDER_EVENT: "e2e/remote" },
      stdio: ["ignore", "pipe", "inherit"],
    });
    this.#child = child;
    const lines = createInterface({ input: child.stdout! });
    this.url = await new Promise<string>((resolve, reject) => {
      child.once("exit", (code) => reject(new Error(`python3 exited with ${code} before serving`)));
      lines.on("line", (line) => {
        if (line.startsWith("serving ")) resolve(line.slice("serving ".length));
      });
    });
    return this;
  }

  async counts(): Promise<Record<string, number>> {
    return (await fetch(this.url.replace(/\/api\/inngest$/, "/counts"))).json() as Promise<Record<string, number>>;
  }

  stop(): void {
    this.#child?.kill();
  }
}

const python = new PythonApp();
afterAll(() => python.stop());

// After the syncs, the two runs' tests side by side: each sends an order of its own (the Python
// app counts step executions per order).
describe("one event, three languages' worth of apps", () => {
  let ts: InngestApp;

  it("syncs the official SDK's app and the Python app beside the engine's own functions", async () => {
    ts = await new InngestApp({ id: "polyglot-ts", engineUrl: dev.url, signingKey: SIGNING_KEY }).start();
    await python.start(dev.url);
    for (const [url, id] of [
      [ts.url, "polyglot-ts"],
      [python.url, "python-app"],
    ] as const) {
      const sync = await http.api<{ synced: boolean; apps: { id: string }[] }>("/api/v1/apps", { json: { url } });
      expect(sync).toMatchObject({ status: 200, body: { synced: true, apps: [{ id }] } });
    }
    const { body } = await http.api<{ functions: { id: string; remote?: boolean; app?: string }[] }>("/api/v1/functions");
    const byId = new Map(body.functions.map((f) => [f.id, f]));
    expect(byId.get("python-app-python-order")).toMatchObject({ remote: true, app: "python-app" });
    expect(byId.get("polyglot-ts-sequential")).toMatchObject({ remote: true, app: "polyglot-ts" });
    expect(byId.get("remote-neighbour")?.remote).toBeUndefined();
  });

  it.concurrent("runs the engine's function, the official SDK's and the Python ones from one event, each step once", async () => {
    const tag = `py${Date.now()}`;
    const data = { tag, n: 1, orderId: tag, items: [{ price: 3, qty: 2 }, { price: 4 }] };
    const [eventId] = await http.send({ name: "e2e/remote", data });
    // Five runs: these three end; the official SDK's `waiting` and the Python payment wait for events of their own.
    const settled = await http.settledRuns(eventId!, 3, 60_000);
    expect(settled.get("remote-neighbour")).toMatchObject({ status: "completed", output: { local: tag } });
    expect(settled.get("polyglot-ts-sequential")).toMatchObject({ status: "completed", output: { a: 2, b: 4, c: 5, d: 6 } });
    const order = settled.get("python-app-python-order");
    expect(order).toMatchObject({ status: "completed", output: { language: "python", total: 10, receipt: `receipt ${tag}: 10` } });
    // The Python steps ran once each, across every call the engine made; its sleep is a durable step between them.
    expect(await python.counts()).toMatchObject({ [`price:${tag}`]: 1, [`receipt:${tag}`]: 1 });
    expect(order!.steps.map((s) => s.id.split(" ")[0])).toEqual(["price", "cool-off", "receipt"]);
    expect(order!.steps[1]).toMatchObject({ type: "sleep", status: "completed" });

    // The Python wait resumes with the matching payment only.
    const payment = await waitFor(async () => {
      const ev = await http.event(eventId!);
      const run = ev.runs.find((r) => r.functionId === "python-app-python-payment");
      return run && (await http.run(run.id)).status === "waiting" ? run : undefined;
    }, "the Python wait");
    await http.send({ name: "polyglot/order.paid", data: { orderId: "someone-else", amount: 1 } });
    await http.send({ name: "polyglot/order.paid", data: { orderId: tag, amount: 10 } });
    const paid = await waitFor(async () => {
      const run = await http.run(payment.id);
      return run.status === "completed" ? run : undefined;
    }, "the Python wait's run to end");
    expect(paid.output).toEqual({ paid: { orderId: tag, amount: 10 } });
  });

  it.concurrent("fails a Python run for good on its NonRetriableError, with the app's message", async () => {
    const tag = `py-reject-${Date.now()}`;
    const [eventId] = await http.send({ name: "e2e/remote", data: { tag, n: 1, orderId: tag, reject: true, items: [] } });
    const payment = await waitFor(async () => {
      const ev = await http.event(eventId!);
      const run = ev.runs.find((r) => r.functionId === "python-app-python-payment");
      return run && (await http.run(run.id)).status === "waiting" ? run : undefined;
    }, "the Python wait");
    await http.send({ name: "polyglot/order.paid", data: { orderId: tag, amount: 1 } });
    const failed = await waitFor(async () => {
      const run = await http.run(payment.id);
      return run.status === "failed" ? run : undefined;
    }, "the rejected run to fail");
    expect(failed.error).toMatchObject({ name: "NonRetriableError", message: expect.stringContaining("order rejected") });
    expect(failed.attempt).toBe(0);
  });
});
