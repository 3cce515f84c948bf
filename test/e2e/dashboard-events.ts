// The example app's events as the dashboard tests send them, in one place:
// when the example's event shapes change, only this file changes.

/** The signup event's five functions: four end at once, trial-reminder waits up to 14 days for an upgrade. */
export const SIGNUP_FUNCTIONS = ["add-to-crm", "add-to-mailing-list", "send-welcome-email", "start-stripe-trial", "trial-reminder"];

export const signupEvent = (tag: string) => ({
  name: "app/user.signup",
  data: { user: { id: `u-${tag}`, email: `${tag}@example.com`, name: "Ada Lovelace" } },
});

/** Starts post-payment-flow, whose two steps run in parallel. */
export const paymentEvent = (tag: string) => ({
  name: "stripe/charge.created",
  data: { email: `${tag}@example.com`, charge: { id: `ch-${tag}`, amount: 4200, currency: "eur" } },
});

/** Starts trial-ending-notice, which sleeps 14 days before its one step. */
export const trialEvent = (tag: string) => ({ name: "app/trial.started", data: { email: `${tag}@example.com` } });
