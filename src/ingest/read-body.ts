import { HttpError } from "../shared/http-error";

/**
 * Reads a request body as text, refusing it with 413 as soon as it passes
 * `limit` bytes: the Content-Length is checked first, then the stream is
 * counted chunk by chunk, so an oversized body is never buffered whole.
 * Bytes that are not UTF-8 are a 400 `invalid_json`.
 */
export async function readBodyWithLimit(req: Request, limit: number): Promise<string> {
  const tooLarge = () => new HttpError(413, "payload_too_large", `request body is over the limit of ${limit} bytes`);
  const declared = req.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) throw tooLarge();
  if (!req.body) return "";
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    bytes.set(c, offset);
    offset += c.byteLength;
  }
  return decodeUtf8(bytes);
}

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

/** Accepts `application/json` and `application/json; charset=...`, nothing else. */
export function requireJsonContentType(req: Request): void {
  const type = req.headers.get("content-type")?.split(";")[0]?.trim().toLowerCase();
  if (type !== "application/json") {
    throw new HttpError(415, "unsupported_media_type", "send events as Content-Type: application/json");
  }
}
