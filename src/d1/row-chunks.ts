import { utf8Bytes } from "../../sdk/internal";

/**
 * D1 refuses a string or a row over 2,000,000 bytes. Every JSON array of rows
 * bound to a statement, and every stored row, stays at or under this.
 */
export const MAX_BOUND_BYTES = 1_900_000;

/**
 * Runs one statement per chunk of rows: alone when there is one, otherwise as
 * one D1 batch (a transaction, so the write is still all or nothing).
 */
export async function runChunked<T>(db: D1Database, sql: string, chunks: string[], ...rest: unknown[]): Promise<D1Result<T>[]> {
  const statements = chunks.map((json) => db.prepare(sql).bind(json, ...rest));
  return statements.length === 1 ? [await statements[0]!.all<T>()] : db.batch<T>(statements);
}

/**
 * Rows (each a JSON text) as JSON arrays of at most `max` bytes each, one
 * bound value per statement; a row is never split. `totalChars` (the rows'
 * UTF-16 units) lets the common case, everything in one array, skip counting
 * bytes.
 */
export function chunkJsonRows(rows: string[], totalChars: number, max = MAX_BOUND_BYTES): string[] {
  if (totalChars * 3 + rows.length + 1 <= max) return [`[${rows.join(",")}]`];
  const chunks: string[] = [];
  let current: string[] = [];
  let bytes = 1;
  for (const row of rows) {
    const size = utf8Bytes(row) + 1; // with its comma or closing bracket
    if (current.length > 0 && bytes + size > max) {
      chunks.push(`[${current.join(",")}]`);
      current = [];
      bytes = 1;
    }
    current.push(row);
    bytes += size;
  }
  if (current.length > 0) chunks.push(`[${current.join(",")}]`);
  return chunks;
}
