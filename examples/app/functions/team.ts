import { app } from "../client";
import { email } from "../providers";

/** `app/team.created`: fans out from inside a function, one `app/member.invited` per invitee, sent once however often the run retries. */
export const inviteTeam = app.createFunction({ id: "invite-team", triggers: [{ event: "app/team.created" }] }, async ({ event, step }) =>
  step.sendEvent(
    "invite-each",
    event.data.invitees.map((invitee) => ({ name: "app/member.invited", data: { teamId: event.data.team.id, email: invitee.email } })),
  ),
);

/** `app/member.invited`: one invitation, each run on its own, retried on its own. */
export const sendInvitation = app.createFunction(
  { id: "send-invitation", triggers: [{ event: "app/member.invited" }] },
  async ({ event, step }) => step.run("send-email", () => email.send(event.data.email, "team-invitation")),
);
