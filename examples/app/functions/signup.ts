import { app } from "../client";
import { crmIsDown } from "../crm-flag";
import { crm, email, mailingList, stripe } from "../providers";

/** `app/user.signup` fans out to four independent functions, each retried on its own. */
export const sendWelcomeEmail = app.createFunction(
  { id: "send-welcome-email", triggers: [{ event: "app/user.signup" }] },
  async ({ event, step }) => step.run("send-email", () => email.send(event.data.user.email, "welcome")),
);

/** A customer, then a subscription on a 14-day trial: two steps, the second using the first's result. */
export const startStripeTrial = app.createFunction(
  { id: "start-stripe-trial", triggers: [{ event: "app/user.signup" }] },
  async ({ event, step }) => {
    const customer = await step.run("create-customer", () => stripe.createCustomer(event.data.user.email));
    const subscription = await step.run("create-subscription", () => stripe.createSubscription(customer.id, "price_pro_monthly", 14));
    return { customer, subscription };
  },
);

/** Calls a CRM that is "down" while the example's flag says so (see crm-flag.ts): its runs retry, then dead-letter. */
export const addToCrm = app.createFunction({ id: "add-to-crm", triggers: [{ event: "app/user.signup" }] }, async ({ event, step, env }) =>
  step.run("upsert-contact", async () => {
    if (await crmIsDown(env.DB)) throw new Error("CRM unavailable: 503 Service Unavailable");
    return crm.upsertContact(event.data.user);
  }),
);

export const addToMailingList = app.createFunction(
  { id: "add-to-mailing-list", triggers: [{ event: "app/user.signup" }] },
  async ({ event, step }) => step.run("subscribe", () => mailingList.subscribe(event.data.user.email, "newsletter")),
);
