import { HttpError } from "../shared/http-error";

/** Opaque pagination cursor over (time, id), newest first. Ids in cursors are ASCII (ULIDs, run ids). */
export interface Cursor {
  at: number;
  id: string;
}

const encode = (value: unknown[]): string => btoa(JSON.stringify(value)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");

function decode(text: string): unknown[] | undefined {
  try {
    const value: unknown = JSON.parse(atob(text.replace(/-/g, "+").replace(/_/g, "/")));
    return Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

export const encodeCursor = (c: Cursor): string => encode([c.at, c.id]);

export function decodeCursor(text: string): Cursor {
  const [at, id] = decode(text) ?? [];
  if (typeof at === "number" && typeof id === "string") return { at, id };
  throw new HttpError(400, "invalid_query", "cursor is not one this API issued");
}

/** A bulk replay's place: the last run id a call chose (run ids order the calls). */
export const encodeRunCursor = (runId: string): string => encode(["after", runId]);

export function decodeRunCursor(text: string): string {
  const [tag, runId] = decode(text) ?? [];
  if (tag === "after" && typeof runId === "string") return runId;
  throw new HttpError(400, "invalid_request", "cursor is not one this API issued");
}
