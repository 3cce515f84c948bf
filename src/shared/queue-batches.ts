import { utf8Bytes } from "../../sdk/internal";

/** Cloudflare Queues limits for one sendBatch call: 100 messages, 256 KB, where a KB is 1,000 bytes. */
export const SEND_BATCH_MAX_MESSAGES = 100;
export const SEND_BATCH_MAX_BYTES = 256_000;
/** Headroom for the metadata (about 100 bytes) the platform counts with each body. */
const PER_MESSAGE_OVERHEAD = 512;

/**
 * Splits messages into sendBatch-sized chunks: at most 100 messages and
 * 256 KB each, counting each body by its JSON size.
 */
export function chunkForSendBatch<T>(bodies: T[], sizeOf: (body: T) => number): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const body of bodies) {
    const size = sizeOf(body) + PER_MESSAGE_OVERHEAD;
    if (current.length > 0 && (current.length >= SEND_BATCH_MAX_MESSAGES || bytes + size > SEND_BATCH_MAX_BYTES)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(body);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** Sends every body, chunked within the limits. */
export async function sendAll<T>(queue: Queue<T>, bodies: T[]): Promise<void> {
  const chunks = chunkForSendBatch(bodies, (b) => utf8Bytes(JSON.stringify(b)));
  await Promise.all(chunks.map((chunk) => queue.sendBatch(chunk.map((body) => ({ body, contentType: "json" as const })))));
}
