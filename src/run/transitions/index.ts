/**
 * Every change of a run's, a step's or a timer's state, by name: the run's
 * (run.ts), its steps' (steps.ts), and the timers of what follows an ending
 * (follow-ups.ts). The driver and the object decide when; these say what,
 * and write it through the run's store. Nothing else assigns a state field
 * or sets a timer. The states and timers are drawn in src/run/README.md.
 */
export * from "./flow";
export * from "./follow-ups";
export * from "./run";
export * from "./steps";
