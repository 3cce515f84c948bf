import { app } from "../client";
import { email, users } from "../providers";

/** `stripe/charge.created`: the confirmation email and the user's update run in parallel, then join. */
export const postPayment = app.createFunction(
  { id: "post-payment-flow", triggers: [{ event: "stripe/charge.created" }] },
  async ({ event, step }) => {
    // Neither is awaited alone: both are found in the same turn and run as separate executions.
    const confirmation = step.run("confirmation-email", () => email.send(event.data.email, "payment-confirmation"));
    const user = step.run("update-user", () => users.recordCharge(event.data.email, event.data.charge));
    const [sent, updated] = await Promise.all([confirmation, user]);
    return { confirmation: sent, user: updated };
  },
);
