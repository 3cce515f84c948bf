/**
 * What the engine (src/) uses of the SDK, in one entry: its wire protocol,
 * errors, serialization, and the execution engine that runs a handler
 * against the memo. Not part of the public API (`stepflare` is sdk/index.ts).
 */

export { type CronSchedule, parseCron } from "./cron";
export { durationMs } from "./duration";
export {
  isNonRetriable,
  isStepFailure,
  MAX_CODE,
  NonRetriableError,
  RetryAfterError,
  retryAfterMsOf,
  type SerializedError,
  StepFailedError,
  StepflareError,
  serializeError,
} from "./errors";
export { Execution, type ExecutionOutcome, type FoundStep, type MemoEntry } from "./execution";
export { compileExpression, compileValue, MAX_EXPRESSION_LENGTH, type Predicate, type ValueOf } from "./expression";
export { eventNamePattern, type FunctionConfig, type StepflareFunction } from "./function";
export type { InvokeSpec } from "./invoke";
export { checkOutputSize, fromJson, toJson, utf8Bytes } from "./json";
export { type EventPayload, eventPayloadSchema, plainObject } from "./protocol";
export { SEND_EVENT_OP } from "./serve-call";
export { wellFormedHead } from "./text";
export type { Logger } from "./types";
export { valueAt, type WaitSpec, waitMatches } from "./wait";
