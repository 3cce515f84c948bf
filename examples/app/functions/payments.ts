import { app } from "../client";
import { email } from "../providers";

/** `stripe/charge.created`: the confirmation email and the user update run in parallel. */
export const postPayment = app.createFunction(
  { id: "post-payment-flow", triggers: [{ event: "stripe/charge.created" }] },
  async ({ event, step }) => {
    const [confirmation, user] = await Promise.all([
      step.run("send-confirmation-email", () => email.send(`${event.data.customerId}@example.com`, "payment-confirmation")),
      step.run("update-user", () => ({ customerId: event.data.customerId, lastChargeId: event.data.chargeId, paid: event.data.amount })),
    ]);
    return { confirmation, user };
  },
);
