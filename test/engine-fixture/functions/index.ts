/**
 * The functions the engine tests drive, by area, and the registry the test
 * engine (test/engine-fixture/index.ts) is built from.
 */

import { cancellable, failingWatcher, finishesLate, systemWatcher } from "./cancels";
import {
  fanOutFails,
  fanOutSibling,
  flaky,
  handlerFlaky,
  hangs,
  idleHandler,
  parallelFlaky,
  replayable,
  replayRace,
  siblingsFail,
  slowOnFailure,
} from "./failures";
import {
  batched,
  batchedIf,
  bigSpender,
  debounced,
  everyFive,
  oncePerUser,
  pausable,
  rateLimited,
  singleCancel,
  singleSkip,
} from "./flow-events";
import { flowRunFunctions } from "./flow-run";
import { doubler, invoker, invokesNothing } from "./invokes";
import { bigErrors, bigOutput, bigState, bigStateHeld, sized } from "./limits";
import { typed, wildcard, wildPair } from "./routing";
import { sender, sendsAnything, welcomer } from "./sends";
import { napper, sleepRace, sleepsUntil } from "./sleeps";
import {
  caught,
  chains,
  evictable,
  fetchThenSave,
  nestedStep,
  parallel,
  raceAndSettle,
  reusedIdFails,
  sequential,
  slowPrelude,
} from "./steps";
import { badWait, depositWait, orderFlow, twoWaits, waitRace } from "./waits";

export { app } from "./app";
export { calls, callsOf, count, down, fixed, times } from "./calls";

export const allFunctions = [
  bigSpender,
  rateLimited,
  debounced,
  batched,
  batchedIf,
  singleSkip,
  singleCancel,
  oncePerUser,
  everyFive,
  pausable,
  doubler,
  invoker,
  invokesNothing,
  cancellable,
  failingWatcher,
  orderFlow,
  twoWaits,
  depositWait,
  waitRace,
  badWait,
  finishesLate,
  systemWatcher,
  sender,
  welcomer,
  sendsAnything,
  napper,
  sleepsUntil,
  sleepRace,
  slowPrelude,
  fanOutFails,
  fanOutSibling,
  bigOutput,
  bigState,
  bigErrors,
  bigStateHeld,
  wildPair,
  reusedIdFails,
  nestedStep,
  fetchThenSave,
  replayRace,
  slowOnFailure,
  hangs,
  idleHandler,
  parallelFlaky,
  handlerFlaky,
  replayable,
  sequential,
  parallel,
  flaky,
  chains,
  wildcard,
  typed,
  sized,
  raceAndSettle,
  evictable,
  caught,
  siblingsFail,
  ...flowRunFunctions,
];
