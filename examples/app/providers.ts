/**
 * Fake third-party providers: no network, deterministic answers that say
 * what they did, so a run's output shows the whole story.
 */
export const email = {
  send: (to: string, template: string) => ({ provider: "fake-mail", to, template, messageId: `msg_${hash(to + template)}` }),
};

export const stripe = {
  createCustomer: (email: string) => ({ id: `cus_${hash(email)}`, email }),
  createSubscription: (customerId: string, price: string, trialDays: number) => ({
    id: `sub_${hash(customerId + price)}`,
    customerId,
    price,
    status: "trialing",
    trialDays,
  }),
};

export const crm = {
  upsertContact: (user: { id: string | number; email: string; name?: string }) => ({
    provider: "fake-crm",
    contactId: `ct_${hash(user.email)}`,
    userId: String(user.id),
    email: user.email,
    name: user.name ?? null,
  }),
};

export const mailingList = {
  subscribe: (email: string, list: string) => ({ provider: "fake-list", list, email, subscribed: true }),
};

/** The app's user records: a charge updates the customer's. */
export const users = {
  recordCharge: (email: string, charge: { id: string; amount: number; currency?: string }) => ({
    email,
    lastChargeId: charge.id,
    paid: charge.amount,
    currency: charge.currency ?? "usd",
  }),
};

/** The documents the fake storage holds. Any other id gets one of them, picked by a hash of the id, so every upload has content. */
export const DOCUMENTS: Record<string, string> = {
  doc_invoice: "Invoice from Acme Corp to Grace Hopper. Amount due: 120 EUR by Friday.",
  doc_contract: "Service agreement between Initech and Ada Lovelace. Signed in London.",
  doc_notes: "Launch review with Katherine Johnson. The Houston team signed off.",
};

export const storage = {
  getContent: (documentId: string) => {
    const stored = Object.values(DOCUMENTS);
    const text = DOCUMENTS[documentId] ?? stored[Number.parseInt(hash(documentId), 36) % stored.length]!;
    return { documentId, text, bytes: new TextEncoder().encode(text).byteLength };
  },
};

/** A fake language model: rules where a real one would be called. */
export const llm = {
  /** The first sentence (or first 60 characters) of a text. */
  summarize: (text: string): string => {
    const first = text.split(/(?<=[.!?])\s/)[0] ?? text;
    return first.length > 60 ? `${first.slice(0, 57)}...` : first;
  },
  classify: (text: string): "invoice" | "contract" | "general" =>
    /invoice|payment|amount due/i.test(text) ? "invoice" : /contract|agreement/i.test(text) ? "contract" : "general",
  /** Runs of capitalised words: names of people, companies and places. */
  extractEntities: (text: string): string[] => [...new Set(text.match(/\b[A-Z][a-z]+(?:\s[A-Z][a-z]+)*\b/g) ?? [])],
};

function hash(s: string): string {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return (h >>> 0).toString(36);
}
