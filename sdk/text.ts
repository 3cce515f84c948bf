/** The first `max` UTF-16 units of `s`, or one fewer where `max` would split a surrogate pair: the kept text stays well-formed. */
export function wellFormedHead(s: string, max: number): string {
  if (s.length <= max) return s;
  return s.slice(0, (s.charCodeAt(max - 1) & 0xfc00) === 0xd800 ? max - 1 : max);
}
