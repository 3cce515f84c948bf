import path from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "./browser";
import { type StepflareHttp, waitFor } from "./client";
import { paymentEvent, SIGNUP_FUNCTIONS, signupEvent, trialEvent } from "./dashboard-events";
import { ROOT, type WranglerDev } from "./harness";
import { serveDuringFile } from "./suite";

// The example app in dev mode, as `npm run dev` serves it, seen through Chromium.
let dev: WranglerDev;
let http: StepflareHttp;
serveDuringFile({ config: "examples/app/wrangler.toml", vars: { STEPFLARE_DEV: "true" } }, (d, h) => {
  dev = d;
  http = h;
});

let closeBrowser: () => Promise<void>;
let page: Page;
const foreign: string[] = [];
beforeAll(async () => {
  const chromium = await launchChromium();
  closeBrowser = chromium.close;
  page = chromium.context.pages()[0] ?? (await chromium.context.newPage());
  // Every request the pages make, to check that none leaves the engine.
  page.on("request", (req) => {
    if (!req.url().startsWith(`${dev.url}/`)) foreign.push(req.url());
  });
});
afterAll(async () => {
  await closeBrowser?.();
});

const rows = (selector: string) => page.locator(selector);

describe("the dashboard in Chromium, dev mode", () => {
  it("shows the signup event's five runs appearing on the runs page, without a reload", async () => {
    await page.goto(`${dev.url}/dashboard/runs`);
    await expect(page.locator("h1").textContent()).resolves.toBe("Runs");
    await http.send(signupEvent("dash-1"));
    // The page refreshes itself: the runs arrive while it stays open.
    // (Locators, not a predicate: the page's policy forbids the eval a string predicate needs.)
    const completed = page.locator('table.runs tr[data-status="completed"]');
    await completed.nth(3).waitFor({ timeout: 30_000 });
    await expect(completed.count()).resolves.toBe(4);
    await rows('table.runs tr[data-status="waiting"]').first().waitFor({ timeout: 30_000 }); // trial-reminder
    const functions = await rows("table.runs tr[data-run]").evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-function")));
    expect(functions.sort()).toEqual(SIGNUP_FUNCTIONS);
  });

  it("finds the event by name and by id, with its payload and the runs it started", async () => {
    await page.goto(`${dev.url}/dashboard/events?q=${encodeURIComponent("app/user.signup")}`);
    const eventId = await rows("table.events tr[data-event]").first().getAttribute("data-event");
    expect(eventId).toMatch(/^[0-9A-Z]{26}$/);
    await page.goto(`${dev.url}/dashboard/events`);
    await page.fill('input[name="q"]', eventId!);
    await Promise.all([page.waitForURL(`**/dashboard/events/${eventId}`), page.click('form.filters button[type="submit"]')]);
    const payload = JSON.parse((await page.locator("pre.event-payload").textContent()) ?? "");
    expect(payload).toMatchObject({ id: eventId, ...signupEvent("dash-1") });
    const started = await rows("table.runs tr[data-run]").evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-function")));
    expect(started.sort()).toEqual(SIGNUP_FUNCTIONS);
  });

  it("lists the functions with their triggers, retries and runs by status", async () => {
    await page.goto(`${dev.url}/dashboard/functions`);
    const crm = page.locator('tr[data-function="add-to-crm"]');
    await expect(crm.textContent()).resolves.toContain("app/user.signup");
    await expect(crm.textContent()).resolves.toContain("retries: 4");
    await expect(crm.locator('[data-status="completed"]').textContent()).resolves.toBe("completed 1");
  });

  it("draws post-payment-flow's two parallel steps on overlapping lanes", async () => {
    const [eventId] = await http.send(paymentEvent("dash-2"));
    const [run] = (await http.settledRuns(eventId!, 1)).values();
    expect(run).toMatchObject({ functionId: "post-payment-flow", status: "completed" });
    await page.goto(`${dev.url}/dashboard/runs?functionId=post-payment-flow`);
    await Promise.all([page.waitForURL(`**/dashboard/runs/${run!.id}`), page.click(`a[href="/dashboard/runs/${run!.id}"]`)]);
    const bars = await page.locator("svg.timeline rect.bar").evaluateAll((rects) =>
      rects.map((r) => {
        const box = r.getBoundingClientRect();
        return {
          step: r.getAttribute("data-step"),
          lane: Number(r.getAttribute("data-lane")),
          start: Number(r.getAttribute("data-start")),
          end: Number(r.getAttribute("data-end")),
          left: box.left,
          right: box.right,
          top: box.top,
        };
      }),
    );
    expect(bars.map((b) => b.step).sort()).toEqual(["confirmation-email", "update-user"]);
    const [a, b] = bars as [(typeof bars)[0], (typeof bars)[0]];
    // Two lanes, one above the other, and the bars overlap in time and on screen.
    expect(a.lane).not.toBe(b.lane);
    expect(a.top).not.toBe(b.top);
    expect(Math.max(a.start, b.start)).toBeLessThan(Math.min(a.end, b.end));
    expect(Math.max(a.left, b.left)).toBeLessThan(Math.min(a.right, b.right));
    // Each step's output, as formatted JSON.
    const outputs = await page.locator("pre.step-output").allTextContents();
    expect(outputs.map((t) => JSON.parse(t))).toEqual(run!.steps.map((s) => s.output));
    expect(outputs[0]).toContain("\n  ");
    if (process.env.STEPFLARE_SCREENSHOT) {
      await page.screenshot({ path: path.join(ROOT, "docs/dashboard-run.png"), fullPage: true });
    }
  });

  it("dead-letters a run while the CRM is down; the Replay button completes it", async () => {
    const setCrm = async (down: boolean) =>
      expect(await http.api("/example/crm", { method: "PUT", json: { down } })).toMatchObject({ status: 200 });
    await setCrm(true);
    try {
      const [eventId] = await http.send(signupEvent("dash-crm"));
      const runs = await http.settledRuns(eventId!, 4, 90_000);
      const failed = runs.get("add-to-crm")!;
      expect(failed.status).toBe("failed");
      await waitFor(
        async () => {
          await page.goto(`${dev.url}/dashboard/dead-letters?functionId=add-to-crm`);
          return (await page.locator(`tr[data-run="${failed.id}"] button.replay`).count()) === 1 ? true : undefined;
        },
        "the dead letter's row with its Replay button",
        30_000,
        500,
      );
      await expect(page.locator(`tr[data-run="${failed.id}"]`).textContent()).resolves.toContain("CRM unavailable");

      // Its run page draws each of the five failed attempts as a segment of the step's bar, in order, each error readable.
      await page.goto(`${dev.url}/dashboard/runs/${failed.id}`);
      const bar = await page.locator('svg.timeline rect.bar[data-step="upsert-contact"]').boundingBox();
      const segments = await page.locator('svg.timeline rect.segment[data-step="upsert-contact"]').evaluateAll((rects) =>
        rects.map((r) => {
          const box = r.getBoundingClientRect();
          return {
            attempt: r.getAttribute("data-attempt"),
            failed: r.classList.contains("attempt-failed"),
            left: box.left,
            right: box.right,
          };
        }),
      );
      expect(segments.map((s) => [s.attempt, s.failed])).toEqual(["1", "2", "3", "4", "5"].map((n) => [n, true]));
      for (const [i, s] of segments.entries()) {
        expect(s.left).toBeGreaterThanOrEqual(bar!.x - 0.5);
        expect(s.right).toBeLessThanOrEqual(bar!.x + bar!.width + 0.5);
        if (i > 0) expect(s.left).toBeGreaterThanOrEqual(segments[i - 1]!.right - 0.5);
      }
      const attemptErrors = await page.locator("details.failed-attempts li pre.attempt-error").allTextContents();
      expect(attemptErrors.map((t) => JSON.parse(t))).toEqual(
        Array(5).fill({ name: "Error", message: "CRM unavailable: 503 Service Unavailable" }),
      );
      expect(attemptErrors[0]).toContain("\n  ");
      await expect(page.locator(".error-summary").textContent()).resolves.toContain("CRM unavailable: 503 Service Unavailable");
      await expect(page.locator("button.cancel").count()).resolves.toBe(0);
      await page.goto(`${dev.url}/dashboard/dead-letters?functionId=add-to-crm`);

      // The bulk replay first says how many runs its filter selects.
      await page.click("a.bulk-replay");
      await expect(page.locator(".selected-count").textContent()).resolves.toMatch(/selects 1 failed run/);

      await setCrm(false);
      await page.goto(`${dev.url}/dashboard/dead-letters?functionId=add-to-crm`);
      await Promise.all([
        page.waitForURL(`**/dashboard/runs/${failed.id}?replayed=failed-step`),
        page.click(`tr[data-run="${failed.id}"] button.replay`),
      ]);
      // The run page follows the replayed run until it completes.
      await page.locator("h1 .status-completed").waitFor({ timeout: 30_000 });
      const output = JSON.parse((await page.locator("pre.run-output").textContent()) ?? "");
      expect(output).toMatchObject({ email: signupEvent("dash-crm").data.user.email });
      expect((await http.run(failed.id)).status).toBe("completed");

      await page.goto(`${dev.url}/dashboard/dead-letters?functionId=add-to-crm`);
      await expect(page.locator(`tr[data-run="${failed.id}"] button.replay`).count()).resolves.toBe(0);
    } finally {
      await setCrm(false);
    }
  });

  it("draws a waiting run's wait as a span, with what it waits for", async () => {
    const [eventId] = await http.send(signupEvent("dash-wait"));
    const runId = await waitFor(async () => {
      const r = (await http.event(eventId!)).runs.find((x) => x.functionId === "trial-reminder");
      return r && (await http.run(r.id)).status === "waiting" ? r.id : undefined;
    }, "the trial reminder waiting");
    await page.goto(`${dev.url}/dashboard/runs/${runId}`);
    await page.locator("h1 .status-waiting").waitFor();
    const span = page.locator('svg.timeline rect.bar.sleep.wait[data-step="wait-for-upgrade"]');
    await span.waitFor();
    await expect(page.locator("svg.timeline title").first().textContent()).resolves.toContain("wait for app/user.upgraded");
  });

  it("draws a sleeping run's sleep up to its wake time; the Cancel button cancels it", async () => {
    const [eventId] = await http.send(trialEvent("dash-trial"));
    const runId = await waitFor(async () => {
      const [r] = (await http.event(eventId!)).runs;
      return r && (await http.run(r.id)).status === "sleeping" ? r.id : undefined;
    }, "the trial reminder's run asleep");
    const asleep = await http.run(runId);
    const sleepStep = asleep.steps[0]!;
    expect(sleepStep).toMatchObject({ id: "wait-for-trial-end", type: "sleep", status: "sleeping" });

    await page.goto(`${dev.url}/dashboard/runs/${runId}`);
    await page.locator("h1 .status-sleeping").waitFor();
    const span = page.locator('svg.timeline rect.bar.sleep.sleeping[data-step="wait-for-trial-end"]');
    expect(Number(await span.getAttribute("data-start"))).toBe(Date.parse(sleepStep.startedAt!));
    expect(Number(await span.getAttribute("data-end"))).toBe(Date.parse(sleepStep.wakeAt!));
    // 14 days from the sleep's start (the engine reads its clock for each, a millisecond or so apart).
    expect(Math.abs(Date.parse(sleepStep.wakeAt!) - Date.parse(sleepStep.startedAt!) - 14 * 86_400_000)).toBeLessThan(1000);
    await expect(page.locator('table.steps tr[data-step="wait-for-trial-end"]').textContent()).resolves.toContain("wakes");
    const csrf = await page.locator("form.actions input[name=_csrf]").getAttribute("value");

    await Promise.all([page.waitForURL(`**/dashboard/runs/${runId}?cancelled=1`), page.click("button.cancel")]);
    await expect(page.locator("h1 .status").textContent()).resolves.toBe("cancelled");
    await expect(page.locator(".notice").textContent()).resolves.toBe("Cancelled.");
    await expect(page.locator(".error-summary").textContent()).resolves.toContain("run_cancelled");
    await expect(page.locator("button.cancel").count()).resolves.toBe(0);
    const run = await http.run(runId);
    expect(run).toMatchObject({ status: "cancelled", error: { code: "run_cancelled" } });
    // The sleep now ends where the run did, shown cancelled, not at its wake time.
    const cut = page.locator('svg.timeline rect.bar.sleep.cancelled[data-step="wait-for-trial-end"]');
    expect(Number(await cut.getAttribute("data-end"))).toBe(Date.parse(run.endedAt!));
    await expect(page.locator('table.steps tr[data-step="wait-for-trial-end"]').getAttribute("data-status")).resolves.toBe("cancelled");

    // Cancelling again says so; cancelling a completed run is refused with the API's error.
    const cancel = (id: string) =>
      fetch(`${dev.url}/dashboard/runs/${id}/cancel`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", origin: dev.url },
        body: `_csrf=${encodeURIComponent(csrf!)}`,
        redirect: "manual",
      });
    const again = await cancel(runId);
    expect(again.status).toBe(303);
    expect(again.headers.get("location")).toBe(`/dashboard/runs/${runId}?cancelled=already`);
    const [paid] = await http.send(paymentEvent("dash-cancel"));
    const [done] = (await http.settledRuns(paid!, 1)).values();
    const refused = await cancel(done!.id);
    expect(refused.status).toBe(409);
    expect(await refused.text()).toContain("run_not_cancellable");
    expect((await http.run(done!.id)).status).toBe("completed");
  });

  it("refuses an action from another origin or without the page's token, even in dev mode", async () => {
    const post = (headers: Record<string, string>, body: string) =>
      fetch(`${dev.url}/dashboard/runs/01M94VN98HYY465VH73H0Q5V71/replay`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
        body,
        redirect: "manual",
      });
    expect((await post({ origin: "http://evil.example" }, "from=start")).status).toBe(403);
    expect((await post({ origin: dev.url }, "from=start")).status).toBe(403);
    expect((await post({ origin: dev.url }, "from=start&_csrf=forged")).status).toBe(403);
    const cancel = await fetch(`${dev.url}/dashboard/runs/01M94VN98HYY465VH73H0Q5V71/cancel`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: "http://evil.example" },
      body: "",
      redirect: "manual",
    });
    expect(cancel.status).toBe(403);
  });

  it("loaded every page, style and script from the engine itself", async () => {
    await page.goto(`${dev.url}/dashboard/functions`);
    const styled = await page.evaluate(`getComputedStyle(document.querySelector("header")).display`);
    expect(styled).toBe("flex"); // the Worker's stylesheet applied
    expect(foreign).toEqual([]);
  });
});
