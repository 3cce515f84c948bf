/**
 * How deeply one event's JSON may nest, the event object itself being level 1
 * (so its `data` is level 2). SQLite refuses JSON nested over 1,000 levels,
 * and JSON.parse and the runs' handlers recurse over it: a bound well below
 * keeps every reader of a stored event safe.
 */
export const MAX_EVENT_DEPTH = 512;

/** True when `value` nests deeper than `max` levels (each object or array is one). Iterative, so no depth overflows the stack. */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  for (let next = stack.pop(); next; next = stack.pop()) {
    const [v, depth] = next;
    if (typeof v !== "object" || v === null) continue;
    if (depth > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (typeof child === "object" && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}
