import { Stepflare } from "stepflare";
import { z } from "zod";

/**
 * The example app and its typed events, in the shapes Inngest's fan-out and
 * step parallelism guides send them. Events with a schema are validated at
 * ingest; keys a schema does not name are kept (`z.looseObject`), so the
 * stored event is the event as sent.
 */
export const app = new Stepflare({
  id: "example-shop",
  schemas: {
    // The fan-out guide: the new user, under `user`.
    "app/user.signup": z.looseObject({
      user: z.looseObject({ id: z.union([z.string().min(1), z.number()]), email: z.email(), name: z.string().optional() }),
    }),
    // One upload, three analyses: the event names the document, the functions fetch it.
    "document/uploaded": z.looseObject({ documentId: z.string().min(1).max(256) }),
    // The parallelism guide: the customer's email and the charge.
    "stripe/charge.created": z.looseObject({
      email: z.email(),
      charge: z.looseObject({ id: z.string().min(1), amount: z.number().int().nonnegative(), currency: z.string().optional() }),
    }),
    // The user upgraded from the trial: the reminder waiting for it stands down.
    "app/user.upgraded": z.looseObject({ user: z.looseObject({ id: z.union([z.string().min(1), z.number()]) }) }),
    // A new team and who to invite: one invitation event per invitee, sent from a function.
    "app/team.created": z.looseObject({
      team: z.looseObject({ id: z.string().min(1) }),
      invitees: z.array(z.looseObject({ email: z.email() })).max(100),
    }),
    "app/member.invited": z.looseObject({ teamId: z.string().min(1), email: z.email() }),
    // A trial that has begun: who to remind when it ends.
    "app/trial.started": z.looseObject({ email: z.email() }),
    // The parallelism guide's chunking: the text, and how long a chunk may be.
    "app/text.summarize": z.looseObject({ text: z.string().min(1), chunkSize: z.number().int().positive().max(10_000).default(200) }),
  },
});
