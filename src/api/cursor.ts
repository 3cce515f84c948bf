import { HttpError } from "../shared/http-error";

/** Opaque pagination cursor over (time, id), newest first. */
export interface Cursor {
  at: number;
  id: string;
}

export const encodeCursor = (c: Cursor): string =>
  btoa(JSON.stringify([c.at, c.id]))
    .replace(/=+$/, "")
    .replace(/\+/g, "-")
    .replace(/\//g, "_");

export function decodeCursor(text: string): Cursor {
  try {
    const json = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
    const [at, id] = JSON.parse(json) as unknown[];
    if (typeof at === "number" && typeof id === "string") return { at, id };
  } catch {
    // fall through
  }
  throw new HttpError(400, "invalid_query", "cursor is not one this API issued");
}
