import { app } from "../client";
import { email } from "../providers";

/**
 * `app/user.signup`: waits for the user's `app/user.upgraded` (same
 * `data.user.id`) for the 14 days of the trial, and reminds the user only
 * if none came. Its run is `waiting` meanwhile; an upgrade sent at once,
 * even before the wait began, still counts.
 */
export const trialReminder = app.createFunction(
  { id: "trial-reminder", triggers: [{ event: "app/user.signup" }] },
  async ({ event, step }) => {
    const upgraded = await step.waitForEvent("wait-for-upgrade", { event: "app/user.upgraded", match: "data.user.id", timeout: "14d" });
    if (upgraded) return { upgraded: true, reminded: false };
    await step.run("send-reminder", () => email.send(event.data.user.email, "trial-ending"));
    return { upgraded: false, reminded: true };
  },
);

/** `app/trial.started`: sleeps until the 14-day trial ends, then sends its notice. Its run sleeps (and can be cancelled) meanwhile. */
export const trialEndingNotice = app.createFunction(
  { id: "trial-ending-notice", triggers: [{ event: "app/trial.started" }] },
  async ({ event, step }) => {
    await step.sleep("wait-for-trial-end", "14d");
    return step.run("send-notice", () => email.send(event.data.email, "trial-ending"));
  },
);
