import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { BASE } from "./helpers";

const errorOf = async (res: Response) => ({
  status: res.status,
  ...((await res.json()) as { error: { code: string; message: string } }).error,
});

const postJson = (path: string, body: BodyInit) =>
  exports.default.fetch(`${BASE}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body });

describe("management API bodies", () => {
  it("refuses a replay body that is not UTF-8 with invalid_json", async () => {
    const bytes = new Uint8Array([...new TextEncoder().encode('{"functionId":"'), 0xff, ...new TextEncoder().encode('"}')]);
    for (const path of ["/api/v1/dead-letters/replay", "/api/v1/runs/01ARZ3NDEKTSV4RRFFQ69G5FAV/replay"]) {
      const error = await errorOf(await postJson(path, bytes));
      expect(error).toMatchObject({ status: 400, code: "invalid_json" });
      expect(error.message).toContain("not valid UTF-8");
    }
  });
});
