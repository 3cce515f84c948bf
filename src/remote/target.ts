import { z } from "zod";
import { DEFAULT_RETRIES, type FunctionConfig, MAX_RETRIES } from "../../sdk/function";

/** The options a remote function's run applies itself. */
export type RunOptions = Partial<Pick<FunctionConfig, "cancelOn" | "timeouts" | "concurrency" | "throttle" | "priority">>;

/**
 * A function served by an app over the Inngest protocol, as a run keeps it:
 * enough to call it without the registry, so a replay or a catch-up reaches
 * the app the run started with.
 */
export const remoteTargetSchema = z.object({
  /** The app's id (the SDK's client id). */
  appId: z.string().min(1).max(256),
  /** The function's URL as the app registered it (its serve URL with `fnId`). */
  url: z.url({ protocol: /^https?$/ }),
  /** The `fnId` the app knows the function by: its full id. */
  slug: z.string().min(1).max(256),
  retries: z.number().int().min(0).max(MAX_RETRIES).default(DEFAULT_RETRIES),
  /**
   * What the run applies itself of the app's options, as the engine's config
   * parsed them (durations in ms): `cancelOn`, `timeouts`, `concurrency`,
   * `throttle`, `priority`.
   */
  options: z.custom<RunOptions>((v) => typeof v === "object" && v !== null && !Array.isArray(v)).optional(),
  /** For an app in another Worker: the engine's service binding to it, which carries the call instead of the network. */
  binding: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/)
    .optional(),
});

export type RemoteTarget = z.infer<typeof remoteTargetSchema>;
