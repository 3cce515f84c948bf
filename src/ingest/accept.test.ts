import { describe, expect, it } from "vitest";
import { MAX_STORED_BYTES, prepareEvents } from "./accept";

describe("prepareEvents", () => {
  it("serialises each event once: text full of escaped quotes is stored as it came, not escaped again", async () => {
    const quoted = '\\"'.repeat(100_000); // as sent: 200,000 characters of \"
    const data = JSON.parse(`{"s":"${quoted}"}`) as Record<string, unknown>;
    const { texts, chars } = await prepareEvents([{ name: "a/b", data }], undefined, 1);
    expect(texts[0]!.length).toBeGreaterThan(200_000);
    expect(texts[0]!.length).toBeLessThan(200_200); // id, name and ts around the data, no re-escaping
    expect(chars).toBe(texts[0]!.length);
    expect(JSON.parse(texts[0]!).data).toEqual(data);
  });

  it("refuses an event whose stored form passes MAX_STORED_BYTES with 413 payload_too_large, naming it", async () => {
    // 1e20 is four characters as sent and 21 written out.
    const big = { n: Array.from({ length: 90_000 }, () => 1e20) };
    const error = await prepareEvents([{ name: "a/b" }, { name: "a/b", data: big }], undefined, 1).catch((e) => e);
    expect(error).toMatchObject({ status: 413, code: "payload_too_large" });
    expect(error.message).toMatch(new RegExp(`^event 1 is \\d+ bytes as stored .* over the limit of ${MAX_STORED_BYTES} bytes$`));
    const fits = { n: Array.from({ length: 80_000 }, () => 1e20) };
    expect((await prepareEvents([{ name: "a/b", data: fits }], undefined, 1)).texts).toHaveLength(1);
  });

  it("takes an event of exactly MAX_STORED_BYTES as stored and refuses one byte more, counting UTF-8 bytes", async () => {
    expect(MAX_STORED_BYTES).toBe(1_900_000); // the README's limit
    const rowOf = async (pad: string) => (await prepareEvents([{ name: "a/b", id: "at-limit", data: { pad } }], undefined, 1)).texts[0]!;
    const shell = (await rowOf("")).length;
    const exact = await rowOf("x".repeat(MAX_STORED_BYTES - shell));
    expect(exact.length).toBe(MAX_STORED_BYTES);
    const over = (pad: string) => prepareEvents([{ name: "a/b", id: "at-limit", data: { pad } }], undefined, 1).catch((e) => e);
    expect(await over("x".repeat(MAX_STORED_BYTES - shell + 1))).toMatchObject({ status: 413, code: "payload_too_large" });
    // Two bytes per "é": over the limit in bytes, while fewer characters than the limit.
    const wide = "é".repeat(Math.ceil((MAX_STORED_BYTES - shell + 1) / 2));
    expect(shell + wide.length).toBeLessThan(MAX_STORED_BYTES);
    expect(await over(wide)).toMatchObject({ status: 413, code: "payload_too_large" });
  });
});
