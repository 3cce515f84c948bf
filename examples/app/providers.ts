/**
 * Fake third-party providers: no network, deterministic answers that say
 * what they did, so a run's output shows the whole story.
 */
export const email = {
  send: (to: string, template: string) => ({ provider: "fake-mail", to, template, messageId: `msg_${hash(to + template)}` }),
};

export const stripe = {
  createCustomer: (email: string) => ({ id: `cus_${hash(email)}`, email }),
  createSubscription: (customerId: string, plan: string, trialDays: number) => ({
    id: `sub_${hash(customerId + plan)}`,
    customerId,
    plan,
    status: "trialing",
    trialDays,
  }),
};

export const crm = {
  upsertContact: (email: string, name?: string) => ({ provider: "fake-crm", contactId: `ct_${hash(email)}`, email, name: name ?? null }),
};

export const mailingList = {
  subscribe: (email: string, list: string) => ({ provider: "fake-list", list, email, subscribed: true }),
};

export const storage = {
  fetchContent: (documentId: string, text: string) => ({ documentId, text, bytes: new TextEncoder().encode(text).byteLength }),
};

/** A "summary": the first sentence (or first 60 characters) of each text. */
export const summarize = (text: string): string => {
  const first = text.split(/(?<=[.!?])\s/)[0] ?? text;
  return first.length > 60 ? `${first.slice(0, 57)}...` : first;
};

function hash(s: string): string {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return (h >>> 0).toString(36);
}
