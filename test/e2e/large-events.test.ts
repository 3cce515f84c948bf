import { readdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { type StepflareHttp, waitFor } from "./client";
import type { WranglerDev } from "./harness";
import { serveDuringFile } from "./suite";

/* The queue path under a real `wrangler dev`: an event over 64 KiB rides through the local R2 bucket EVENT_BODIES. */

let http: StepflareHttp;
let dev: WranglerDev;
serveDuringFile({ config: "examples/app/wrangler.toml", vars: { STEPFLARE_DEV: "true" } }, (d, h) => {
  dev = d;
  http = h;
});

describe("a large event on the queue path", () => {
  it("is accepted through R2, runs every subscriber, and is stored whole", async () => {
    const id = `large-${Date.now()}`;
    const pad = "x".repeat(100 * 1024);
    // `cf-ray` makes the engine (ingest "auto") take the queue path, as behind Cloudflare's edge.
    const res = await fetch(http.ingestUrl(), {
      method: "POST",
      headers: { "content-type": "application/json", "cf-ray": "0000000000000000-E2E" },
      body: JSON.stringify({ id, name: "document/uploaded", data: { documentId: "doc-large", pad } }),
    });
    expect({ status: res.status, body: await res.json() }).toEqual({ status: 200, body: { ids: [id], status: 200 } });
    const runs = await http.settledRuns(id, 3);
    expect([...runs.values()].map((r) => r.status)).toEqual(["completed", "completed", "completed"]);
    expect(((await http.event(id)).event.data as { pad: string }).pad).toHaveLength(pad.length);
    // Miniflare keeps the local bucket's objects as files: the event's was put, and deleted once D1 held the event.
    const blobs = path.join(dev.persistTo, "v3/r2/stepflare-event-bodies/blobs");
    await waitFor(async () => (readdirSync(blobs).length === 0 ? true : undefined), "the event's R2 object to be deleted", 10_000);
    expect(dev.output()).not.toContain("no EVENT_BODIES R2 binding");
    expect(dev.output()).not.toMatch(/stepflare: .*(event bod|not stored)/);
  });
});
