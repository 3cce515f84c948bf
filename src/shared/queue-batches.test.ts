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
});
