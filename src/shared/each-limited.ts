/**
 * Calls `fn` for every item, at most `limit` at a time, and resolves once all
 * have settled; `fn` handles its own errors (one that throws rejects the whole).
 */
export async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
