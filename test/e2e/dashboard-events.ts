// The example app's events as the dashboard tests send them, in one place:
// when the example's event shapes change, only this file changes.

export const FOUR_SIGNUP_FUNCTIONS = ["add-to-crm", "add-to-mailing-list", "send-welcome-email", "start-stripe-trial"];

export const signupEvent = (tag: string) => ({
  name: "app/user.signup",
  data: { user: { id: `u-${tag}`, email: `${tag}@example.com`, name: "Ada Lovelace" } },
});

/** Starts post-payment-flow, whose two steps run in parallel. */
export const paymentEvent = (tag: string) => ({
  name: "stripe/charge.created",
  data: { email: `${tag}@example.com`, charge: { id: `ch-${tag}`, amount: 4200, currency: "eur" } },
});
