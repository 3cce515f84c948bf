export { Stepflare, SendError, type EventSchemas, type StepflareOptions } from "./client";
export { defineFunction, type StepflareFunction, type FunctionConfig, DEFAULT_RETRIES, MAX_RETRIES } from "./function";
export { NonRetriableError, RetryAfterError, StepFailedError, StepflareError, type SerializedError } from "./errors";
export type { StepflareEvent, StepflareEnv, HandlerContext, FailureContext, StepTools, StepOptions, Logger } from "./types";
export { eventPayloadSchema, type EventPayload } from "./protocol";
