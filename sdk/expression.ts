import { parse } from "@marcbachmann/cel-js";
import { StepflareError } from "./errors";

/** The longest expression accepted, in characters. */
export const MAX_EXPRESSION_LENGTH = 4096;

/** A compiled expression: true only where it evaluates to `true`; an error in evaluation (a missing key, say) is false. */
export type Predicate = (vars: Record<string, unknown>) => boolean;

/**
 * Compiles a CEL expression, as Inngest's `if` filters are written (for
 * example `event.data.amount > 100 && event.data.plan == "pro"`), once.
 * One that does not parse throws `invalid_expression`, naming `what`.
 */
export function compileExpression(text: unknown, what: string): Predicate {
  const value = compileValue(text, what);
  return (vars) => value(vars) === true;
}

/** A compiled expression answering its value; an error in evaluation (a missing key, say) answers `undefined`. */
export type ValueOf = (vars: Record<string, unknown>) => unknown;

/**
 * Compiles a CEL expression whose value is used, not tested: a flow-control
 * key (`event.data.accountId`) or a priority (`event.data.plan == "pro" ? 120 : 0`).
 * One that does not parse throws `invalid_expression`, naming `what`.
 */
export function compileValue(text: unknown, what: string): ValueOf {
  if (typeof text !== "string" || text.trim() === "" || text.length > MAX_EXPRESSION_LENGTH) {
    throw new StepflareError("invalid_expression", `${what}: an expression is 1-${MAX_EXPRESSION_LENGTH} characters of CEL`);
  }
  let evaluate: (vars: Record<string, unknown>) => unknown;
  try {
    evaluate = parse(text);
  } catch (e) {
    throw new StepflareError("invalid_expression", `${what}: ${(e as Error).message.split("\n")[0]}`);
  }
  return (vars) => {
    try {
      return evaluate(vars);
    } catch {
      return undefined;
    }
  };
}
