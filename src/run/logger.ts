import type { Logger } from "../../sdk/internal";
import type { RunState } from "./types";

/** The handler's `logger`: console, prefixed with the function and run. */
export function runLogger(run: Pick<RunState, "id" | "functionId">): Logger {
  const prefix = `[${run.functionId} ${run.id}]`;
  return {
    info: (...a) => console.info(prefix, ...a),
    warn: (...a) => console.warn(prefix, ...a),
    error: (...a) => console.error(prefix, ...a),
    debug: (...a) => console.debug(prefix, ...a),
  };
}
