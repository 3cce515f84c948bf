import { HttpError } from "../shared/http-error";

/** Opaque pagination cursor over (time, id), newest first. Its JSON is base64url over UTF-8: an event's id may be any text. */
export interface Cursor {
  at: number;
  id: string;
}

const encode = (value: unknown[]): string => {
  const bytes = new TextEncoder().encode(JSON.stringify(value));
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
};

function decode(text: string): unknown[] | undefined {
  try {
    const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
    const json = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
    const value: unknown = JSON.parse(json);
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
