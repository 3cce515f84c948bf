import { app } from "./app";

/* Routing: wildcard triggers, two subscribers of one event, schemas. */

export const wildcard = app.createFunction({ id: "wildcard", triggers: [{ event: "wild/*" }] }, async ({ event }) => event.name);

/** With `wildcard`, a second subscriber of `wild/pair`: an event two functions fan out to. */
export const wildPair = app.createFunction(
  { id: "wild-pair", triggers: [{ event: "wild/pair" }] },
  async ({ event }) => `pair of ${event.name}`,
);

export const typed = app.createFunction({ id: "typed", triggers: [{ event: "test/typed" }] }, async ({ event }) => event.data.n * 2);
