import type { RunStore } from "../store";
import type { RunFlow } from "../types";
import { RUN_LEASE_MS } from "./run";

/**
 * A run's transitions under flow control: into the queue, through its
 * throttle and concurrency slots, and out. A queued run keeps an `admit`
 * timer, so a lost answer or a lost grant never strands it.
 */

/** A queued run asks its limits again this often, though a freed slot is offered to it at once. */
export const ADMIT_RECHECK_MS = 30_000;

/** A new run's place under flow control: queued from the start, asking at once; holding the slots the fan-out took for it (`held`). */
export function newRunFlow(concurrency: boolean, now: number, held: string[] = []): RunFlow {
  return { concurrency, ticket: 1, queuedAt: now, reason: null, startAt: null, throttled: false, asked: [...held], held: [...held] };
}

const flowOf = (store: RunStore): RunFlow => {
  const flow = store.run?.flow;
  if (!flow) throw new Error("the run has no flow control");
  return flow;
};

/** The throttle reserved a start at `startAt`: the run waits for it, queued. */
export function waitForThrottle(store: RunStore, startAt: number): void {
  const flow = flowOf(store);
  Object.assign(flow, { reason: "throttle", startAt });
  store.saveFlow();
  store.setTimer("admit", "run", startAt);
}

/** The run's start time under its throttle has come: the throttle is behind it for good. */
export function passThrottle(store: RunStore): void {
  Object.assign(flowOf(store), { throttled: true, startAt: null });
  store.saveFlow();
}

/** The run is about to ask the limit `name` for a slot: noted first, so leaving the queue lets go of its place there too. */
export function askSlot(store: RunStore, name: string): void {
  const flow = flowOf(store);
  if (flow.asked.includes(name)) return;
  flow.asked.push(name);
  store.saveFlow();
}

/** The limit `name` has no slot for the run now: it waits, and asks again later. */
export function waitForSlot(store: RunStore, now: number): void {
  const flow = flowOf(store);
  if (flow.reason !== "concurrency") {
    flow.reason = "concurrency";
    store.saveFlow();
  }
  store.setTimer("admit", "run", now + ADMIT_RECHECK_MS);
}

/**
 * The run holds a slot of the limit `name`. `save: false` when a write of
 * the flow row follows before the next await (the next ask, or the admission).
 */
export function holdSlot(store: RunStore, name: string, save = true): void {
  const flow = flowOf(store);
  if (!flow.asked.includes(name)) flow.asked.push(name);
  if (!flow.held.includes(name)) flow.held.push(name);
  if (save) store.saveFlow();
}

/**
 * The queued run passed every limit: it runs; its start timeout no longer
 * applies. Its lease is set here, except in its first turn, which sets it
 * when the turn is over (`endFirstTurn`), as for a run without flow control.
 */
export function admitRun(store: RunStore, now: number, finishMs?: number, firstTurn = false): boolean {
  const run = store.run!;
  if (run.status !== "queued") return false;
  run.status = "running";
  run.version += 1;
  store.saveRun();
  Object.assign(flowOf(store), { queuedAt: null, reason: null, startAt: null });
  store.saveFlow();
  store.clearTimer("admit", "run");
  store.clearTimer("start-timeout", "run");
  if (!firstTurn) store.setTimer("lease", "run", now + RUN_LEASE_MS);
  // `timeouts.finish` runs from the first start, not from the queue (as in Inngest); a later admission keeps it.
  if (finishMs !== undefined && !store.hasTimer("run-timeout")) store.setTimer("run-timeout", "run", now + finishMs);
  return true;
}

/**
 * A run of a function with a concurrency limit resumes (a sleep or wait
 * ended) or is replayed: it queues again for a slot, under a new ticket.
 */
export function requeueRun(store: RunStore, now: number): void {
  const run = store.run!;
  const flow = flowOf(store);
  run.status = "queued";
  Object.assign(flow, { ticket: flow.ticket + 1, queuedAt: now, reason: null, startAt: null, asked: [], held: [] });
  store.saveFlow();
  store.setTimer("admit", "run", now);
}

/**
 * The run stops executing (it sleeps, waits or ends): every limit it asked
 * lets go of its slot or its place. The releases are owed in memory only
 * (`store.releases`), and the flow row is not written: `asked` and `held`
 * count only while the run is queued or running, and a release lost with
 * the instance is caught by the slot's lease (the run, asked, says no).
 */
export function leaveSlots(store: RunStore): void {
  const flow = store.run?.flow;
  if (!flow || flow.asked.length === 0) return;
  for (const name of flow.asked) store.releases.push(`${flow.ticket} ${name}`);
  Object.assign(flow, { asked: [], held: [] });
}

/** A release's ref (a `slot-release` timer's, from runs stored before releases were kept in memory): the ticket and the limit's name. */
export function releaseRef(ref: string): { ticket: number; name: string } {
  const space = ref.indexOf(" ");
  return { ticket: Number(ref.slice(0, space)), name: ref.slice(space + 1) };
}

/** Asking the run's limits failed (an object unreachable): asked again at `at`. */
export function retryAdmit(store: RunStore, at: number): void {
  store.setTimer("admit", "run", at);
}
