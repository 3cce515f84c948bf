/** A place in a listing ordered newest first: the time and id of the last row a page held. */
export interface PagePosition {
  at: number;
  id: string;
}

export interface PageQuery {
  /** `SELECT … FROM …`, without WHERE, ORDER BY or LIMIT. */
  select: string;
  /** Filter clauses using `?N` placeholders numbered from `args`; the position's clause is added here. */
  where: string[];
  args: unknown[];
  /** The time column, newest first; ties are broken by `id`. */
  timeColumn: string;
  /** The page starts after this row; the first page has none. */
  after: PagePosition | undefined;
  limit: number;
}

/** One page of a keyset-paginated listing, newest first, with the position the next page starts after. */
export async function keysetPage<Row extends { id: string }>(
  db: D1Database,
  q: PageQuery,
): Promise<{ rows: Row[]; next: PagePosition | null }> {
  const { where, args, timeColumn: t } = q;
  if (q.after) {
    where.push(`(${t} < ?${args.push(q.after.at)} OR (${t} = ?${args.length} AND id < ?${args.push(q.after.id)}))`);
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
  return { rows, next: found.length > q.limit && last ? { at: Number(last[t]), id: last.id } : null };
}
