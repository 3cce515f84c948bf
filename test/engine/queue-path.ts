import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import type { Env } from "../../src";
import worker from "../engine-fixture/index";
import { BASE } from "./helpers";

/** The headers of a request that came through Cloudflare's edge: ingest takes the queue path for it. */
export const EDGE = { "content-type": "application/json", "cf-ray": "8f0e0c0d0a0b0c0d-CDG" };

/** Sends events through ingest's queue path, to the test Worker or with these bindings; answers their ids. */
export async function sendByQueue(body: unknown, target: Env | undefined = undefined): Promise<string[]> {
  const req = new Request(`${BASE}/e/test-key`, { method: "POST", headers: EDGE, body: JSON.stringify(body) });
  let res: Response;
  if (target) {
    const ctx = createExecutionContext();
    res = await worker.fetch(req, target, ctx);
    await waitOnExecutionContext(ctx);
  } else res = await exports.default.fetch(req);
  if (res.status !== 200) throw new Error(`ingest answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { ids: string[] }).ids;
}

/**
 * The real queue binding, recording each body sent through it into `sent`;
 * `before` runs first on each body (to check what holds at send time).
 */
export function recording(
  queue: Queue<unknown>,
  sent: unknown[],
  before: (body: unknown) => Promise<void> = async () => {},
): Queue<unknown> {
  return {
    send: async (body: unknown, options?: QueueSendOptions) => {
      await before(body);
      sent.push(body);
      return queue.send(body, options);
    },
    sendBatch: async (batch: Iterable<MessageSendRequest>, options?: QueueSendBatchOptions) => {
      const messages = [...batch];
      for (const m of messages) await before(m.body);
      for (const m of messages) sent.push(m.body);
      return queue.sendBatch(messages, options);
    },
  } as unknown as Queue<unknown>;
}

/** The test Worker's two shards of the events queue (test/engine-fixture/wrangler.toml). */
export const shards = () => {
  const bound = env as unknown as { EVENTS: Queue<unknown>; EVENTS_1: Queue<unknown> };
  return [bound.EVENTS, bound.EVENTS_1] as const;
};
