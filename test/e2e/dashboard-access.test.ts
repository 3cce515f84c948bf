import { createServer, type Server } from "node:http";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "./browser";
import { freePort, type WranglerDev } from "./harness";
import { serveDuringFile } from "./suite";

// Outside dev mode: the dashboard opens only with the API key, once, through its form.
const API_KEY = "e2e-dashboard-key-7f3a91";
let dev: WranglerDev;
serveDuringFile({ config: "examples/app/wrangler.toml", vars: { EVENT_KEYS: "e2e-event-key", API_KEY } }, (d) => {
  dev = d;
});

let context: BrowserContext;
let page: Page;
let closeBrowser: () => Promise<void>;
// A page on another origin (another port of 127.0.0.1) that posts a replay form to the dashboard.
let attacker: Server;
let attackerUrl: string;
beforeAll(async () => {
  const chromium = await launchChromium();
  ({ context, close: closeBrowser } = chromium);
  page = context.pages()[0] ?? (await context.newPage());
  const port = await freePort();
  attacker = createServer((_req, res) => {
    res.setHeader("content-type", "text/html");
    res.end(
      `<form method="post" action="${dev.url}/dashboard/dead-letters/replay"><input name="from" value="start"></form>` +
        "<script>document.forms[0].submit()</script>",
    );
  });
  await new Promise<void>((resolve) => attacker.listen(port, "127.0.0.1", resolve));
  attackerUrl = `http://localhost:${port}/`;
});
afterAll(async () => {
  await closeBrowser?.();
  attacker?.close();
});

const PAGES = [
  "/dashboard",
  "/dashboard/functions",
  "/dashboard/events",
  "/dashboard/runs",
  "/dashboard/runs/01M94VN98HYY465VH73H0Q5V71",
  "/dashboard/dead-letters",
  "/dashboard/dead-letters/replay",
];

describe("the dashboard outside dev mode", () => {
  it("shows no page without a session: every page sends to the login form, every action is refused", async () => {
    for (const path of PAGES) {
      const res = await fetch(`${dev.url}${path}`, { redirect: "manual" });
      expect(res.status, path).toBe(303);
      expect(res.headers.get("location"), path).toMatch(/^\/dashboard\/login\?next=/);
    }
    for (const path of ["/dashboard/dead-letters/replay", "/dashboard/runs/01M94VN98HYY465VH73H0Q5V71/cancel"]) {
      const action = await fetch(`${dev.url}${path}`, { method: "POST", body: new URLSearchParams({ from: "start" }) });
      expect(action.status, path).toBe(401);
    }
    // A forged session (the right shape, a wrong MAC) opens nothing either.
    const forged = await fetch(`${dev.url}/dashboard/runs`, {
      redirect: "manual",
      headers: { cookie: `stepflare_session=${Date.now()}.${"A".repeat(43)}` },
    });
    expect(forged.status).toBe(303);
  });

  it("asks for the key once, refuses a wrong one, and keeps an HttpOnly, Secure, SameSite=Strict session without the key", async () => {
    await page.goto(`${dev.url}/dashboard/runs`);
    expect(new URL(page.url()).pathname).toBe("/dashboard/login");
    await page.fill('input[name="key"]', "not-the-key");
    await page.click('button[type="submit"]');
    await expect(page.locator('[role="alert"]').textContent()).resolves.toContain("not the API key");
    expect(await context.cookies()).toEqual([]);

    await page.fill('input[name="key"]', API_KEY);
    await Promise.all([page.waitForURL(`${dev.url}/dashboard/runs`), page.click('button[type="submit"]')]);
    await expect(page.locator("h1").textContent()).resolves.toBe("Runs");
    const cookies = await context.cookies();
    expect(cookies).toHaveLength(1);
    expect(cookies[0]).toMatchObject({ name: "stepflare_session", httpOnly: true, secure: true, sameSite: "Strict", path: "/dashboard" });
    expect(cookies[0]!.value).not.toContain(API_KEY);
    expect(await page.evaluate("document.cookie")).toBe("");

    // Every page opens now, and none shows the key.
    for (const path of PAGES.filter((p) => !p.includes("/runs/"))) {
      await page.goto(`${dev.url}${path}`);
      expect(new URL(page.url()).pathname, path).not.toBe("/dashboard/login");
      expect(await page.content(), path).not.toContain(API_KEY);
    }
  });

  it("refuses a cross-site action: a form posted from another origin, or a request with the session but no token", async () => {
    const cookie = (await context.cookies()).find((c) => c.name === "stepflare_session");
    expect(cookie).toBeDefined();
    // In the browser: the other site's form arrives without the session (SameSite=Strict) and is refused.
    const refused = page.waitForResponse(
      (res) => res.url() === `${dev.url}/dashboard/dead-letters/replay` && res.request().method() === "POST",
    );
    await page.goto(attackerUrl);
    expect((await refused).status()).toBe(401);

    // With the session cookie and the page's own token: another Origin, or a cross-site fetch, is still refused,
    // and so is this origin without the token.
    await page.goto(`${dev.url}/dashboard/dead-letters/replay`);
    const token = (await page.locator('input[name="_csrf"]').first().getAttribute("value")) ?? "";
    expect(token).not.toBe("");
    const post = (headers: Record<string, string>, body: Record<string, string>) =>
      fetch(`${dev.url}/dashboard/dead-letters/replay`, {
        method: "POST",
        headers: { cookie: `stepflare_session=${cookie!.value}`, ...headers },
        body: new URLSearchParams(body),
        redirect: "manual",
      });
    expect((await post({ origin: attackerUrl.slice(0, -1) }, { from: "start", _csrf: token })).status).toBe(403);
    expect((await post({ "sec-fetch-site": "cross-site" }, { from: "start", _csrf: token })).status).toBe(403);
    expect((await post({ origin: dev.url }, { from: "start" })).status).toBe(403);
    expect((await post({ origin: dev.url }, { from: "start", _csrf: token })).status).toBe(200);
  });

  it("logs out: the session cookie is gone and the pages ask for the key again", async () => {
    await page.goto(`${dev.url}/dashboard/runs`);
    await Promise.all([page.waitForURL(`${dev.url}/dashboard/login`), page.click(".logout button")]);
    expect(await context.cookies()).toEqual([]);
    await page.goto(`${dev.url}/dashboard/functions`);
    expect(new URL(page.url()).pathname).toBe("/dashboard/login");
  });
});
