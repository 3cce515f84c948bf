import { StepflareError } from "./errors";

const encoder = new TextEncoder();

/** Size of a string in UTF-8 bytes, the unit every Stepflare limit is stated in. */
export const utf8Bytes = (s: string): number => encoder.encode(s).byteLength;

/**
 * Serializes a step or run output the way it is stored. `undefined` stays
 * `undefined` (stored as no value); everything else must be JSON.
 */
export function toJson(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (e) {
    throw new StepflareError("output_not_serializable", `output is not JSON-serializable: ${(e as Error).message}`);
  }
  return text;
}

export const fromJson = (text: string | null | undefined): unknown => (text === null || text === undefined ? undefined : JSON.parse(text));

/**
 * Checks a serialized output against a byte limit: exactly `limit` bytes
 * passes, one more fails with `code`. Nothing is ever truncated.
 */
export function checkOutputSize(text: string | undefined, limit: number, code: string, what: string): void {
  if (text === undefined) return;
  // Cheap bound first: a UTF-16 string of n units encodes to at most 3n bytes.
  if (text.length * 3 <= limit) return;
  const bytes = utf8Bytes(text);
  if (bytes > limit) {
    throw new StepflareError(code, `${what} is ${bytes} bytes, over the limit of ${limit} bytes`);
  }
}
