import { describe, expect, it } from "vitest";
import { utf8Bytes } from "../../sdk/internal";
import { chunkJsonRows } from "./row-chunks";

describe("chunkJsonRows", () => {
  it("keeps everything in one array while it fits, and otherwise splits at rows, each chunk at most max bytes", () => {
    const rows = ["[1]", "[22]", "[333]", '["é"]'];
    const chars = rows.reduce((n, r) => n + r.length, 0);
    expect(chunkJsonRows(rows, chars)).toEqual(['[[1],[22],[333],["é"]]']);
    const chunks = chunkJsonRows(rows, chars, 14);
    expect(chunks).toEqual(["[[1],[22]]", '[[333],["é"]]']); // the second is exactly 14 bytes (é is two)
    for (const c of chunks) expect(utf8Bytes(c)).toBeLessThanOrEqual(14);
    expect(chunks.flatMap((c) => JSON.parse(c))).toEqual(rows.map((r) => JSON.parse(r)));
    // Exactly at the boundary: "[[1],[22]]" is 10 bytes.
    expect(chunkJsonRows(["[1]", "[22]"], 7, 10)).toEqual(["[[1],[22]]"]);
    expect(chunkJsonRows(["[1]", "[22]"], 7, 9)).toEqual(["[[1]]", "[[22]]"]);
  });
});
