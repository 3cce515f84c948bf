import { Hono } from "hono";

/**
 * The example's switch for "the CRM is down", kept in a D1 row so it can be
 * flipped with curl while `npm run dev` runs:
 *   curl -X PUT http://127.0.0.1:8787/example/crm -H 'content-type: application/json' -d '{"down":true}'
 */
const ENSURE = "CREATE TABLE IF NOT EXISTS example_flags (name TEXT PRIMARY KEY, value INTEGER NOT NULL)";

export async function crmIsDown(db: D1Database): Promise<boolean> {
  await db.prepare(ENSURE).run();
  const row = await db.prepare("SELECT value FROM example_flags WHERE name = 'crm_down'").first<{ value: number }>();
  return row?.value === 1;
}

export const crmFlagRoutes = new Hono<{ Bindings: { DB: D1Database } }>()
  .get("/", async (c) => c.json({ down: await crmIsDown(c.env.DB) }))
  .put("/", async (c) => {
    const body = (await c.req.json().catch(() => null)) as { down?: unknown } | null;
    if (typeof body?.down !== "boolean") {
      return c.json({ error: { code: "invalid_request", message: 'send {"down": true} or {"down": false}' } }, 400);
    }
    await c.env.DB.prepare(ENSURE).run();
    await c.env.DB.prepare("INSERT OR REPLACE INTO example_flags (name, value) VALUES ('crm_down', ?)")
      .bind(body.down ? 1 : 0)
      .run();
    return c.json({ down: body.down });
  });
