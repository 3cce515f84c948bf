export { type EventSchemas, SendError, Stepflare, type StepflareOptions, type Trigger } from "./client";
export { NonRetriableError, RetryAfterError, type SerializedError, StepFailedError, StepflareError } from "./errors";
export { DEFAULT_RETRIES, defineFunction, type FunctionConfig, MAX_RETRIES, type StepflareFunction } from "./function";
export { type EventPayload, eventPayloadSchema } from "./protocol";
export { type ServeHandler, type ServeOptions, serve } from "./serve";
export type {
  FailureContext,
  HandlerContext,
  InvokeOptions,
  Logger,
  SendEventPayload,
  StepflareEnv,
  StepflareEvent,
  StepOptions,
  StepTools,
  WaitForEventOptions,
} from "./types";
