import type { ContentfulStatusCode } from "hono/utils/http-status";

/**
 * An error with an HTTP status and a stable `code`; the Hono app turns it
 * into `{ "error": { "code", "message" } }`. Messages never carry secrets.
 */
export class HttpError extends Error {
  override name = "HttpError";
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }

  toJSON() {
    return { error: { code: this.code, message: this.message } };
  }
}
