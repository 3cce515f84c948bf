import { app } from "./app";
import { count, down, type TagData } from "./calls";

/* Sending events from a function: step.sendEvent. */

/**
 * Sends one `test/welcome` per user beside another step (so both go through
 * the steps queue), then a step that fails while the tag is "down".
 */
export const sender = app.createFunction({ id: "sender", triggers: [{ event: "test/sender" }], retries: 0 }, async ({ event, step }) => {
  const d = event.data as TagData & { users: string[] };
  const [sent] = await Promise.all([
    step.sendEvent(
      "fan",
      d.users.map((userId) => ({ name: "test/welcome", data: { tag: d.tag, userId } })),
    ),
    step.run("beside", () => "beside"),
  ]);
  await step.run("after", () => {
    if (down.has(d.tag)) throw new Error("after is down");
  });
  return sent;
});

/** Counts each welcome it receives, by user. */
export const welcomer = app.createFunction({ id: "welcomer", triggers: [{ event: "test/welcome" }] }, async ({ event }) => {
  const d = event.data as TagData & { userId: string };
  count(d.tag, `welcome-${d.userId}`);
  return d.userId;
});

/** Sends what the event says to send, alone (inline): for refusals. */
export const sendsAnything = app.createFunction(
  { id: "sends-anything", triggers: [{ event: "test/sends-anything" }], retries: 2 },
  async ({ event, step }) => step.sendEvent("send", (event.data as { events: unknown }).events as never),
);
