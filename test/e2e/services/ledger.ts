import { Inngest } from "inngest";
import { serve } from "inngest/cloudflare";

/** How many times each step's function ran in this Worker. */
const executions: Record<string, number> = {};
const count = (name: string) => {
  executions[name] = (executions[name] ?? 0) + 1;
};

const quiet = { info() {}, warn() {}, error() {}, debug() {} };
const inngest = new Inngest({ id: "ledger", logger: quiet });

/** A function on the official `inngest` SDK, in a Worker reached only through the engine's LEDGER binding. */
const record = inngest.createFunction({ id: "record", triggers: [{ event: "e2e/services.order" }] }, async ({ event, step }) => {
  const tag = String(event.data.tag);
  const entry = await step.run("entry", () => {
    count(`entry:${tag}`);
    return { amount: Number(event.data.amount) };
  });
  const posted = await step.run("post", () => {
    count(`post:${tag}`);
    return entry.amount + 1;
  });
  return { posted, entry: executions[`entry:${tag}`], post: executions[`post:${tag}`] };
});

export default { fetch: serve({ client: inngest, functions: [record] }) };
