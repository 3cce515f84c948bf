// The D1 schema as migrations/0001_init.sql writes it: columns and indexes that queries rely on.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../../src";

const testEnv = env as unknown as Env;

const columnsOf = async (table: string) =>
  (await testEnv.DB.prepare("SELECT name FROM pragma_table_info(?)").bind(table).all<{ name: string }>()).results.map((c) => c.name);

describe("the D1 schema", () => {
  it("holds no events: they live in the event store's shards, which D1 only names", async () => {
    expect(await columnsOf("events")).toEqual([]);
    expect(await columnsOf("event_shards")).toEqual(["bucket", "shard"]);
  });

  it("holds a dead letter's run version and its error's stack in columns of their own", async () => {
    const columns = await columnsOf("dead_letters");
    expect(columns).toEqual(expect.arrayContaining(["run_version", "error_stack"]));
    expect(columns).not.toContain("error");
  });
});
