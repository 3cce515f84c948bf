import { decodeCursor, encodeCursor } from "./cursor";

export interface PageQuery {
  /** `SELECT … FROM …`, without WHERE, ORDER BY or LIMIT. */
  select: string;
  /** Filter clauses using `?N` placeholders numbered from `args`; the cursor clause is added here. */
  where: string[];
  args: unknown[];
  /** The time column, newest first; ties are broken by `id`. */
  timeColumn: string;
  cursor: string | undefined;
  limit: number;
}

/** One page of a keyset-paginated listing, newest first, with the cursor of the next page. */
export async function keysetPage<Row extends { id: string }>(
  db: D1Database,
  q: PageQuery,
): Promise<{ rows: Row[]; nextCursor: string | null }> {
  const { where, args, timeColumn: t } = q;
  if (q.cursor) {
    const cur = decodeCursor(q.cursor);
    where.push(`(${t} < ?${args.push(cur.at)} OR (${t} = ?${args.length} AND id < ?${args.push(cur.id)}))`);
  }
  const sql = `${q.select} ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY ${t} DESC, id DESC LIMIT ?${args.push(q.limit + 1)}`;
  const found = (
    await db
      .prepare(sql)
      .bind(...args)
      .all<Row>()
  ).results;
  const rows = found.slice(0, q.limit);
  const last = rows[rows.length - 1] as (Row & Record<string, unknown>) | undefined;
  return {
    rows,
    nextCursor: found.length > q.limit && last ? encodeCursor({ at: Number(last[t]), id: last.id }) : null,
  };
}
