import type { EventMessage } from "../messages/events";

/** What the fan-out does with one event of a message: acknowledge it, or retry it. */
export interface Part {
  ack(): void;
  retry(): void;
}

/** One event of an events-queue message, as the fan-out takes it. */
export type Item = { msg: Part; body: EventMessage };
