// The D1 schema as migrations/0001_init.sql writes it: columns and indexes that queries rely on.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../../src";

const testEnv = env as unknown as Env;

const columnsOf = async (table: string) =>
  (await testEnv.DB.prepare("SELECT name FROM pragma_table_info(?)").bind(table).all<{ name: string }>()).results.map((c) => c.name);

describe("the D1 schema", () => {
  it("keeps an event's name, and no timestamp column beside the one its payload holds", async () => {
    const columns = await columnsOf("events");
    expect(columns).toContain("name");
    expect(columns).not.toContain("ts");
  });

  it("finds the events of one name, newest first, through an index", async () => {
    const plan = await testEnv.DB.prepare(
      "EXPLAIN QUERY PLAN SELECT id, payload FROM events WHERE name = ?1 ORDER BY accepted_at DESC, id DESC LIMIT 50",
    )
      .bind("app/user.created")
      .all<{ detail: string }>();
    const details = plan.results.map((r) => r.detail).join("\n");
    expect(details).toMatch(/USING (COVERING )?INDEX events_by_name/);
    expect(details).not.toContain("TEMP B-TREE");
  });

  it("holds a dead letter's run version and its error's stack in columns of their own", async () => {
    const columns = await columnsOf("dead_letters");
    expect(columns).toEqual(expect.arrayContaining(["run_version", "error_stack"]));
    expect(columns).not.toContain("error");
  });
});
