import { app } from "../client";
import { email } from "../providers";

/** `app/trial.started`: sleeps until the 14-day trial ends, then reminds the user. Its run sleeps (and can be cancelled) meanwhile. */
export const trialReminder = app.createFunction(
  { id: "trial-reminder", triggers: [{ event: "app/trial.started" }] },
  async ({ event, step }) => {
    await step.sleep("wait-for-trial-end", "14d");
    return step.run("send-reminder", () => email.send(event.data.email, "trial-ending"));
  },
);
