import { describe, expect, it } from "vitest";
import { chunkForSendBatch, SEND_BATCH_MAX_BYTES, SEND_BATCH_MAX_MESSAGES } from "./queue-batches";

describe("chunkForSendBatch", () => {
  it("cuts at 100 messages", () => {
    const chunks = chunkForSendBatch(
      Array.from({ length: 250 }, (_, i) => i),
      () => 10,
    );
    expect(chunks.map((c) => c.length)).toEqual([100, 100, 50]);
  });
  it("cuts before 256 KB, counting each message's overhead", () => {
    const size = 60 * 1024;
    const chunks = chunkForSendBatch(
      Array.from({ length: 10 }, (_, i) => i),
      () => size,
    );
    for (const c of chunks) expect(c.length * (size + 512)).toBeLessThanOrEqual(SEND_BATCH_MAX_BYTES);
    expect(chunks.flat()).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(chunks.every((c) => c.length <= SEND_BATCH_MAX_MESSAGES)).toBe(true);
  });
  it("keeps a batch within 256 KB as Cloudflare counts it, 256,000 bytes (a KB is 1,000 bytes there)", () => {
    // Four 64,000-byte bodies are 256,000 bytes before any metadata: over the limit together, so three and one.
    const chunks = chunkForSendBatch([0, 1, 2, 3], () => 64_000);
    expect(chunks.map((c) => c.length)).toEqual([3, 1]);
    expect(SEND_BATCH_MAX_BYTES).toBe(256_000);
  });
});
