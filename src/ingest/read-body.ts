import { HttpError } from "../shared/http-error";
import { decodeUtf8 } from "../shared/utf8";

/**
 * Reads a request body as text, refusing it with 413 once it passes `limit`
 * bytes: the Content-Length is checked first, then the stream is counted
 * chunk by chunk, so an oversized body is never buffered whole. The rest of
 * a stream that passed the limit is read and dropped, up to `DRAIN_MAX_BYTES`
 * more, before the answer: a connection closed with the upload still coming
 * is reset, and the client then often sees the reset, not the 413.
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
      await drain(reader, DRAIN_MAX_BYTES);
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

/** How much of an oversized stream is read and dropped before the 413, at most. */
const DRAIN_MAX_BYTES = 8 * 1024 * 1024;

/** Reads a stream to its end, or cancels it once `max` more bytes have gone by. */
async function drain(reader: ReadableStreamDefaultReader<Uint8Array>, max: number): Promise<void> {
  let dropped = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      dropped += value.byteLength;
      if (dropped > max) break;
    }
  } catch {
    return; // the client went away
  }
  await reader.cancel().catch(() => {});
}

/** Accepts `application/json` and `application/json; charset=...`, nothing else. */
export function requireJsonContentType(req: Request): void {
  const type = req.headers.get("content-type")?.split(";")[0]?.trim().toLowerCase();
  if (type !== "application/json") {
    throw new HttpError(415, "unsupported_media_type", "send events as Content-Type: application/json");
  }
}
