/** Shown JSON is cut at this many characters; the API gives the rest. */
export const JSON_VIEW_MAX = 20_000;

/** A value as indented JSON, clipped for the page. */
export function formatJson(value: unknown): string {
  const text = JSON.stringify(value, null, 2) ?? "undefined";
  if (text.length <= JSON_VIEW_MAX) return text;
  return `${text.slice(0, JSON_VIEW_MAX)}\n… ${text.length - JSON_VIEW_MAX} more characters (the API answers it whole)`;
}

export const JsonView = (p: { value: unknown; class?: string }) => <pre class={p.class ?? "json"}>{formatJson(p.value)}</pre>;
