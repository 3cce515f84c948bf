import { HttpError } from "./http-error";

/**
 * Decodes UTF-8 strictly: a byte sequence that is not UTF-8 (a raw 0xFF, a
 * cut-off character) is a 400, never silently turned into U+FFFD.
 */
export function decodeUtf8(bytes: Uint8Array): string {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new HttpError(400, "invalid_json", "request body is not valid JSON: it is not valid UTF-8");
  }
}
