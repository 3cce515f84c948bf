import { HttpError } from "../shared/http-error";
import { decodeUtf8 } from "../shared/utf8";

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

/** Accepts `application/json` and `application/json; charset=...`, nothing else. */
export function requireJsonContentType(req: Request): void {
  const type = req.headers.get("content-type")?.split(";")[0]?.trim().toLowerCase();
  if (type !== "application/json") {
    throw new HttpError(415, "unsupported_media_type", "send events as Content-Type: application/json");
  }
}
